"""What ``/openapi.json`` says beyond the views' own decorators.

The errors every operation shares come from layers in front of the views (the
bearer token, the provider signature, the body cap, the store), so they are added
here to every operation they apply to, from what the operation itself documents:
its security and whether it takes a body.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import marshmallow as ma
from apispec import BasePlugin

from shiftfill.api.blueprint import WITHOUT_STORE, Api
from shiftfill.api.fields import Role

BEARER = "bearerAuth"
SIGNATURE = "twilioSignature"
DEFAULT_SECURITY: list[dict[str, list[str]]] = [{BEARER: []}]

DESCRIPTION = """\
Fills open home-health shifts by texting, then phoning, qualified caregivers.

**Authentication.** When `SHIFTFILL_API_TOKEN` is set, every operation except
`GET /health` needs `Authorization: Bearer <token>` and answers 401 without it;
when it is not set, nothing is checked. The provider's webhooks (form-encoded)
carry `X-Twilio-Signature` instead, checked when `TWILIO_AUTH_TOKEN` is set (403).

**Errors** have one body everywhere:
`{"error": {"code": "...", "message": "...", "fields": {...}}}`. `code` is one of the
values listed in the `Error` schema; `fields` holds messages per invalid field (422).
A body over `SHIFTFILL_MAX_BODY_BYTES` (16 KiB for a provider webhook) is a 413;
an unreachable store is a 503 with `Retry-After` and nothing changed.
"""

OPENAPI_SETTINGS = {
    "API_TITLE": "shiftfill",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {"description": DESCRIPTION},
        "security": DEFAULT_SECURITY,
        "components": {
            "securitySchemes": {
                BEARER: {"type": "http", "scheme": "bearer"},
                SIGNATURE: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Twilio-Signature",
                },
            }
        },
    },
}


class SharedErrors(BasePlugin):
    """Document, on each operation, the errors of the layers in front of its view.

    - 401 where the operation accepts the bearer token (``auth.check_bearer``);
    - 403 where it accepts the provider's signature (``auth.check_signature``);
    - 400 and 413 where it takes a body: unreadable JSON, a wrong content type, a
      repeated webhook parameter; a body over the cap (``limits``, ``MAX_CONTENT_LENGTH``);
    - 503 wherever the view reads or writes the store (``StoreUnavailable``): everywhere
      but on an operation marked ``WITHOUT_STORE``.
    """

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            responses: dict[Any, Any] = operation.setdefault("responses", {})
            documented = {str(status) for status in responses}
            for status in shared_errors(operation):
                if str(status) not in documented:
                    # The name of the response flask-smorest registers for each status,
                    # with the error body.
                    responses[str(status)] = HTTPStatus(status).name


def shared_errors(operation: dict[str, Any]) -> list[int]:
    """The statuses the layers in front of the view can answer ``operation`` with."""
    schemes = {name for need in operation.get("security", DEFAULT_SECURITY) for name in need}
    statuses = []
    if BEARER in schemes:
        statuses.append(401)
    if SIGNATURE in schemes:
        statuses.append(403)
    if "requestBody" in operation:
        statuses += [400, 413]
    if not operation.get(WITHOUT_STORE):
        statuses.append(503)
    return statuses


def document_roles(api: Api, roles: tuple[str, ...]) -> None:
    """List the roles this app accepts (``SHIFTFILL_ROLES``) as the enum of every role field."""

    # apispec binds attribute functions to its converter, hence the first argument.
    def role_enum(converter: object, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
        return {"enum": list(roles)} if isinstance(field, Role) else {}

    api.ma_plugin.converter.add_attribute_function(role_enum)
