"""Scheduled jobs; each one only calls a service."""
