"""shiftfill: fills an open home-health shift by texting, then phoning, qualified caregivers."""
