"""What every request gets before any view runs: an id, its log context, a timer, a safe body.

One WSGI middleware around the Flask app. A reply from the provider is the
busiest request shiftfill answers, so this work is done once, on the WSGI
environ, and not in Flask hooks (docs/performance.md, "The reply path").
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, cast

import flask
from flask import Flask
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from shiftfill.adapters import logs

REQUEST_ID_HEADER = "X-Request-ID"
# A client's request id is used as given only when it is short and plain.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Observe = Callable[[str, str, int, float], None]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def new_request_id() -> str:
    """32 hex digits, like a UUID4's, without a system call per request.

    An id only tells requests apart in logs; it guards nothing. ``random`` is
    seeded again in each forked worker, so workers do not repeat each other.
    """
    return f"{random.getrandbits(128):032x}"


def request_id_for(given: str) -> str:
    """The client's ``X-Request-ID`` if it is short and plain, else a new id."""
    return given if given and REQUEST_ID_PATTERN.fullmatch(given) else new_request_id()


class ReadableInput:
    """``wsgi.input`` whose read errors are the client's: a 400, never a 500 and a traceback.

    gunicorn raises its own parse errors from a chunked body's read (a chunk size
    that is not hex, a chunk without its CRLF), in the middle of whatever view
    reads the body; werkzeug turns only ``OSError`` and ``ValueError`` into a 400.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, *args: Any) -> bytes:
        return self._guarded(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._guarded(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._guarded(self._stream.readlines, *args)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    @staticmethod
    def _guarded(read: Callable[..., Any], *args: Any) -> Any:
        try:
            return read(*args)
        except HTTPException:
            raise
        except Exception as exc:
            raise BadRequest(
                "The request body could not be read: a malformed chunk or a broken connection."
            ) from exc


class CappedBody(LimitedStream):
    """A body read up to the cap (``max_content_length``) however it is sent: one that goes
    on past the cap is a 413.

    werkzeug's own stream raises 413 only on a read *after* the cap; reading the whole body
    at once (``read()``, as the JSON and form parsers do) stops at the cap as if the body
    ended there. A chunked body, which has no length to check first, was then used cut short.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._source = stream

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._source.read(1):
            raise RequestEntityTooLarge()
        return data


class Request(flask.Request):
    """Flask's request, a chunked body read through ``CappedBody`` when the server ends
    the body itself (gunicorn).

    A body with a length over the cap is refused before it is read; one within it is
    read as the server gives it, which stops at that length, as werkzeug's own stream
    does. Wrapping it too made each request allocate and fill buffers of the cap's
    size for a body of a few hundred bytes (docs/performance.md, "The reply path").
    """

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if limit is None or "wsgi.input_terminated" not in self.environ:
            return get_input_stream(self.environ, max_content_length=limit)
        length = self.content_length
        if length is None:
            return cast(IO[bytes], CappedBody(self.environ["wsgi.input"], limit))
        if length > limit:
            raise RequestEntityTooLarge()
        return cast(IO[bytes], self.environ["wsgi.input"])


class RequestScope:
    """The WSGI side: the id (echoed on the response, stamped on every log line of the
    request), the body read through ``ReadableInput``, and the request's timing.

    Every answered request is timed with ``observe``, by method, route (never the raw
    path) and status. The route is read from the request Flask made for it, which
    werkzeug leaves in the environ; a Flask hook for it cost every request a call.
    """

    def __init__(self, app: WsgiApp, observe: Observe) -> None:
        self._app = app
        self._observe = observe

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        rid = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        body = environ.get("wsgi.input")
        if body is not None:
            environ["wsgi.input"] = ReadableInput(body)
        answered: list[tuple[str, str]] = []

        def start_with_id(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            # Read here: Flask takes its request out of the environ once it is done.
            answered.append((status, _route(environ)))
            headers.append((REQUEST_ID_HEADER, rid))
            return start_response(status, headers, *exc_info)

        token = logs.request_id.set(rid)
        try:
            return self._app(environ, start_with_id)
        finally:
            if answered:  # inside the log context: a metrics warning names the request
                status, route = answered[-1]
                method = environ.get("REQUEST_METHOD", "GET").upper()  # as werkzeug reads it
                self._observe(
                    method if method in HTTP_METHODS else "OTHER",
                    route,
                    int(status[:3]),
                    time.perf_counter() - started,
                )
            logs.request_id.reset(token)


def _route(environ: dict[str, Any]) -> str:
    """The route of the request Flask made from ``environ``, which werkzeug leaves there."""
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    return rule.rule if rule is not None else "unmatched"


def init_app(app: Flask, observe: Observe) -> None:
    """Wrap ``app`` in ``RequestScope``, which times every answered request with
    ``observe``, and read bodies with ``Request``."""
    app.request_class = Request
    app.wsgi_app = RequestScope(app.wsgi_app, observe)  # type: ignore[method-assign]
