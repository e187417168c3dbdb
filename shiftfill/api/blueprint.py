"""The flask-smorest ``Api`` and ``Blueprint`` shiftfill uses, with its parser and error body."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

import flask_smorest
from flask import Request
from flask_smorest import abort
from webargs.flaskparser import FlaskParser, is_json_request

from shiftfill.api.errors import ErrorSchema, http_error_response

F = TypeVar("F", bound=Callable[..., Any])


def reject(status: int, message: str, **data: Any) -> NoReturn:
    """Stop the request with ``status`` and the error body carrying ``message``."""
    abort(status, message=message, **data)
    raise AssertionError("abort returned")  # pragma: no cover


class Parser(FlaskParser):
    """Reads JSON bodies only when they say they are JSON: anything else is a 400."""

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            reject(400, "Content-Type must be application/json.")
        return super()._raw_load_json(req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document the error responses a view can give, each with the error body.

        Documentation only: unlike ``alt_response``, it adds no wrapper that runs
        on every request.
        """
        return self.doc(responses={str(status): HTTPStatus(status).name for status in statuses})


class Api(flask_smorest.Api):
    """flask-smorest's Api, answering every HTTP error with shiftfill's error body."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Any:
        return http_error_response(error)
