"""The provider's callback for answers gathered on a call."""
