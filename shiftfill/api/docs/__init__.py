"""The API's page for people: ``/docs``."""
