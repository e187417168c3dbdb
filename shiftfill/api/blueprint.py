"""The flask-smorest ``Api`` and ``Blueprint`` shiftfill uses, with its parser and error body."""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

import flask_smorest
import marshmallow as ma
from flask import Request, request
from flask_smorest import abort
from flask_smorest.utils import deepupdate
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict

from shiftfill.api.errors import ErrorSchema, http_error_response

F = TypeVar("F", bound=Callable[..., Any])


def reject(status: int, message: str, **data: Any) -> NoReturn:
    """Stop the request with ``status`` and the error body carrying ``message``."""
    abort(status, message=message, **data)
    raise AssertionError("abort returned")  # pragma: no cover


# JSON that parses in principle but not in Python: "[" * 100_000 or 5,000 levels of
# nesting (RecursionError), a number of more than 4,300 digits (ValueError).
UNREADABLE_JSON = (RecursionError, ValueError)
INVALID_JSON = "Invalid JSON body: malformed, nested too deeply or with a number too long."


def request_json() -> Any:
    """The current request's JSON body, or ``None`` when it cannot be read."""
    try:
        return request.get_json(silent=True)
    except RecursionError:  # ``silent`` covers ValueError only
        return None


def refuse_repeated(params: MultiDict[str, str], status: int, kind: str, location: str) -> None:
    """Stop the request with ``status`` when it sends a parameter more than once, naming each."""
    repeated = sorted(name for name, values in params.lists() if len(values) > 1)
    if repeated:
        reject(
            status,
            f"{kind} {repeated[0]!r} is sent more than once.",
            errors={location: {name: ["Sent more than once."] for name in repeated}},
        )


class Parser(FlaskParser):
    """Reads JSON bodies only when they say they are JSON: anything else is a 400.

    A query parameter is read once: ``?status=open&status=filled`` is a 422, where
    webargs would read the first value and a client would take the answer for both.
    """

    def load_querystring(self, req: Request, schema: ma.Schema) -> Any:
        refuse_repeated(req.args, 422, "Query parameter", "query")
        return super().load_querystring(req, schema)

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            reject(400, "Content-Type must be application/json.")
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs answers these itself (400, or a missing body)
        except UNREADABLE_JSON:
            reject(400, INVALID_JSON)


class NoQuery(ma.Schema):
    """The query string of a list without filters: every parameter in it is unknown."""


# The mark of an operation that answers while the store is down, because it reads no
# record: the store's start-up work does not hold it, and its document lists no 503.
WITHOUT_STORE = "x-answers-without-store"


def answers_without_store(view: Callable[..., Any] | None) -> bool:
    """Whether ``view`` was marked with ``Blueprint.without_store``."""
    return bool(getattr(view, "answers_without_store", False))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def without_store(self) -> Callable[[F], F]:
        """Mark a view that answers while the store is down (see ``WITHOUT_STORE``)."""
        document = self.doc(**{WITHOUT_STORE: True})

        def decorator(func: F) -> F:
            func.answers_without_store = True  # type: ignore[attr-defined]
            return document(func)

        return decorator

    @staticmethod
    def doc(**kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's ``doc``, without the wrapper it puts around the view.

        The documentation is kept on the function, where flask-smorest's own
        wrapper keeps it (``_apidoc``); a request then costs no extra call, where
        each ``doc`` and ``errors`` added one on every request of the view.
        """

        def decorator(func: F) -> F:
            apidoc = deepcopy(getattr(func, "_apidoc", {}))
            apidoc["manual_doc"] = deepupdate(deepcopy(apidoc.get("manual_doc", {})), kwargs)
            func._apidoc = apidoc  # type: ignore[attr-defined]
            return func

        return decorator

    def no_filters(self) -> Callable[[F], F]:
        """Refuse any query parameter on a list without filters (422 naming it).

        A client that sends ``?status=open`` or ``?limit=10`` where they mean nothing
        would otherwise take the whole list for the filtered one.
        """
        decorator: Callable[[F], F] = self.arguments(
            NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE
        )
        return decorator

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document the error responses a view's own use case can give (404, 409...).

        Each gets the error body. The errors of the layers in front of every view
        (401, 403, 400 and 413 for a body, 503) are added by ``openapi.SharedErrors``.
        """
        return self.doc(responses={str(status): HTTPStatus(status).name for status in statuses})


class Api(flask_smorest.Api):
    """flask-smorest's Api, answering every HTTP error with shiftfill's error body."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Any:
        return http_error_response(error)
