"""What one provider webhook may carry: a small body, and each parameter once.

The ops API keeps the app-wide cap (``SHIFTFILL_MAX_BODY_BYTES``, 1 MiB by default:
a batch of 1,000 caregivers); the provider's callbacks are a few hundred bytes, so
they get ``SHIFTFILL_MAX_WEBHOOK_BODY_BYTES`` (16 KiB by default) instead. The
checks run in ``auth``'s hook, before the signature check reads the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Request

from shiftfill.api.blueprint import refuse_repeated, reject

WEBHOOK_MAX_BODY_BYTES = 16 * 1024


def webhook_body_limit(config: Mapping[str, Any]) -> int:
    """The most bytes a provider webhook's body may have under ``config``."""
    limit = int(config.get("SHIFTFILL_MAX_WEBHOOK_BODY_BYTES", WEBHOOK_MAX_BODY_BYTES))
    if config.get("MAX_CONTENT_LENGTH"):
        limit = min(limit, int(config["MAX_CONTENT_LENGTH"]))
    return limit


FORM = "application/x-www-form-urlencoded"


def check_webhook_body(req: Request, limit: int) -> None:
    """Stop a provider webhook whose body is over ``limit`` (413), is not a form (400), or
    repeats a parameter (400)."""
    # Also bounds a chunked body, which has no Content-Length to check.
    req.max_content_length = limit
    if req.content_length is not None and req.content_length > limit:
        reject(413, f"A provider webhook's body is limited to {limit} bytes.")
    if req.mimetype != FORM:
        # The provider posts forms; anything else is a wrong content type, not a bad form.
        reject(400, f"Content-Type must be {FORM}.")
    # The signature covers every value, but a view reads one value per name:
    # "Body=HELP&Body=YES" must not be read as HELP where it was signed as both.
    refuse_repeated(req.form, 400, "Parameter", "form")
