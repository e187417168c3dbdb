"""What one provider webhook may carry: a small body, and each parameter once.

The ops API keeps the app-wide cap (``SHIFTFILL_MAX_BODY_BYTES``, 1 MiB by default:
a batch of 1,000 caregivers); the provider's callbacks are a few hundred bytes, so
they get ``SHIFTFILL_MAX_WEBHOOK_BODY_BYTES`` (16 KiB by default) instead.
"""

from __future__ import annotations

from flask import Flask, request

from shiftfill.api.auth import is_provider_request
from shiftfill.api.blueprint import reject

WEBHOOK_MAX_BODY_BYTES = 16 * 1024


def init_app(app: Flask) -> None:
    """Cap provider webhooks' bodies and refuse repeated parameters, before any check reads them.

    Registered before the signature check, which is the first to read the form.
    """
    limit = int(app.config.get("SHIFTFILL_MAX_WEBHOOK_BODY_BYTES", WEBHOOK_MAX_BODY_BYTES))
    if app.config.get("MAX_CONTENT_LENGTH"):
        limit = min(limit, int(app.config["MAX_CONTENT_LENGTH"]))

    @app.before_request
    def limit_provider_requests() -> None:
        endpoint = request.endpoint
        if endpoint is None or not is_provider_request(endpoint):
            return
        # Also bounds a chunked body, which has no Content-Length to check.
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            reject(413, f"A provider webhook's body is limited to {limit} bytes.")
        # The signature covers every value, but a view reads one value per name:
        # "Body=HELP&Body=YES" must not be read as HELP where it was signed as both.
        repeated = sorted(name for name, values in request.form.lists() if len(values) > 1)
        if repeated:
            reject(
                400,
                f"Parameter {repeated[0]!r} is sent more than once.",
                errors={"form": {name: ["Sent more than once."] for name in repeated}},
            )
