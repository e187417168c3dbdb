"""The caregivers resource."""
