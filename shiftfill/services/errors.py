"""What a use case reports when it cannot do what was asked."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused request; ``code`` is the machine-readable name clients see."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"
