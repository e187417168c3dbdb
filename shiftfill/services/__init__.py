"""Use cases: the only code that changes the repositories."""
