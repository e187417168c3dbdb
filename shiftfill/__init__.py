"""shiftfill: fills an open home-health shift by texting, then phoning, qualified caregivers."""

from shiftfill.app import create_app

__all__ = ["create_app"]
