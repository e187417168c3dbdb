"""The clients resource."""
