"""The inbound message webhook."""
