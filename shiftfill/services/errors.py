"""What a use case reports when it cannot do what was asked."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused request; ``code`` is the machine-readable name clients see."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """No caregiver or shift with the given id."""

    code = "not_found"


class Conflict(ServiceError):
    """The request clashes with the current state (a duplicate id, a filled or cancelled shift)."""

    code = "conflict"


class Invalid(ServiceError):
    """A field names something that does not exist (a shift's unknown organization)."""

    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
