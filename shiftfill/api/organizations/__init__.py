"""The organizations resource."""
