"""One error body for every failure: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from shiftfill.services.errors import Conflict, Invalid, NotFound, ServiceError
from shiftfill.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

# The code of an error body, by status. 414, 431 and 503 are what nginx answers in
# front of the app (deploy/nginx.conf.template) in the same body.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_error",
    503: "service_unavailable",
}
# Any other status (none is known to reach a client) and a bare ``ServiceError``.
OTHER_ERROR = "error"
# A 503 from the app itself: the store cannot be reached, nothing was changed.
STORE_UNAVAILABLE = "store_unavailable"
SERVICE_STATUS = {NotFound: 404, Conflict: 409, Invalid: 422}
# Every code an error body can carry: the enum of ``Error.code`` in /openapi.json.
ALL_ERROR_CODES = sorted(
    {
        *ERROR_CODES.values(),
        *(error.code for error in (ServiceError, *SERVICE_STATUS)),
        STORE_UNAVAILABLE,
        OTHER_ERROR,
    }
)
# An error body reports at most this many items of a list (or fields of an object) and
# echoes at most this much of a name the client sent: a batch of 10,000 invalid
# caregivers, or 10,000 unknown fields, is answered in a few kilobytes.
MAX_REPORTED = 20
MAX_NAME_CHARS = 64
MORE = "_more"


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        metadata={
            "enum": ALL_ERROR_CODES,
            "description": "Machine-readable error name. `validation_error`: the body or "
            "query failed the schema or a rule (422); `store_unavailable`: the store "
            "cannot be reached and nothing was changed, retry (503); `service_unavailable`: "
            "the proxy in front cannot reach shiftfill (503); `error`: any other failure.",
        },
    )
    message = ma.fields.String(
        required=True, metadata={"description": "What went wrong, for a person"}
    )
    fields_ = ma.fields.Dict(
        required=True,
        data_key="fields",
        keys=ma.fields.String(),
        metadata={
            "description": "Messages per invalid field: a list of messages, or for a list "
            "or nested object, the same shape again keyed by index or name"
        },
    )


class ErrorSchema(ma.Schema):
    """The error body of every 4xx and 5xx response."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


def error_response(
    status: int, message: str, fields: dict[str, Any] | None = None, code: str | None = None
) -> Response:
    """Build the JSON error response for ``status``."""
    body = {
        "error": {
            "code": code or ERROR_CODES.get(status, OTHER_ERROR),
            "message": message,
            "fields": fields or {},
        }
    }
    response = jsonify(body)
    response.status_code = status
    return response


def http_error_response(error: HTTPException) -> Response:
    """Turn any werkzeug or webargs HTTP error into the error body."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    fields: dict[str, Any] = {}
    messages = data.get("errors") or data.get("messages") or {}
    if isinstance(messages, dict):
        for location_messages in messages.values():
            if isinstance(location_messages, dict):
                fields.update(location_messages)
    message = data.get("message") or _flat_message(messages) or error.description or error.name
    if status == 422 and "message" not in data:
        message = "The request is invalid; see fields."
    response = error_response(status, message, bounded(fields))
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if status == 405 and error.get_headers():
        response.headers.update(dict(error.get_headers()))
        response.headers["Content-Type"] = "application/json"
    return response


def bounded(messages: Any) -> Any:
    """Cut field messages to ``MAX_REPORTED`` entries per level and names to a readable length.

    What was left out is counted under ``"_more"``, so the client knows there is more.
    """
    if isinstance(messages, dict):
        items = list(messages.items())
        shown = {_name(key): bounded(value) for key, value in items[:MAX_REPORTED]}
        if len(items) > MAX_REPORTED:
            shown[MORE] = [f"{len(items) - MAX_REPORTED} more not shown."]
        return shown
    if isinstance(messages, list):
        return [bounded(value) for value in messages[:MAX_REPORTED]]
    return messages


def _name(key: Any) -> str:
    name = str(key)
    return name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS] + "..."


def _flat_message(messages: Any) -> str | None:
    if isinstance(messages, dict):
        for value in messages.values():
            if isinstance(value, list) and value and isinstance(value[0], str):
                return value[0]
    return None


def register_error_handlers(app: Flask) -> None:
    """Answer service errors with 404, 409 or 422 in the error body."""

    def handle_service_error(error: ServiceError) -> Response:
        status = SERVICE_STATUS.get(type(error), 400)
        fields = error.fields if isinstance(error, Invalid) else None
        return error_response(status, error.message, fields, code=error.code)

    app.register_error_handler(ServiceError, handle_service_error)

    def handle_store_unavailable(error: StoreUnavailable) -> Response:
        # A provider retries a webhook answered 503; the dashboard can retry too.
        log.warning("store unavailable: %s", error)
        response = error_response(
            503,
            f"The store cannot be reached ({error}); nothing was changed. Retry shortly.",
            code=STORE_UNAVAILABLE,
        )
        response.headers["Retry-After"] = "5"
        return response

    app.register_error_handler(StoreUnavailable, handle_store_unavailable)
