"""Who may call what: bearer tokens for the ops API, Twilio signatures for provider webhooks.

Both checks are off until configured (``SHIFTFILL_API_TOKEN``, ``TWILIO_AUTH_TOKEN``),
so a development server needs no secrets. A provider webhook's body is bounded
(``limits``) whether or not its signature is checked, and before it is.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

from flask import Flask, Request, request
from twilio.request_validator import RequestValidator

from shiftfill.api import limits
from shiftfill.api.blueprint import reject

FORM = "application/x-www-form-urlencoded"
# The page at /docs and its files are static: open, like /health. The document it
# shows, /openapi.json, needs the token like any operation.
PUBLIC_ENDPOINTS = frozenset({"health.health", "docs.page", "docs.asset"})
# The board (shiftfill/board/) asks for the ops token once, then checks its own session.
SESSION_BLUEPRINTS = frozenset({"board"})
PROVIDER_ENDPOINTS = frozenset({"messages.status_callback", "voice.gather"})
SIGNATURE_HEADER = "X-Twilio-Signature"

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Check every request against the configured tokens before its view runs.

    One hook for every caller: a provider's reply is the busiest request shiftfill
    answers, and each hook costs it a call (docs/performance.md, "The reply path").
    """
    api_tokens: Sequence[str] = app.config.get("SHIFTFILL_API_TOKENS", ())
    auth_token: str = app.config.get("TWILIO_AUTH_TOKEN", "")
    public_base_url: str = app.config.get("SHIFTFILL_PUBLIC_BASE_URL", "")
    validator = RequestValidator(auth_token) if auth_token else None
    webhook_limit = limits.webhook_body_limit(app.config)

    @app.before_request
    def authenticate() -> None:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        endpoint = req.endpoint
        if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
            return
        if req.blueprint in SESSION_BLUEPRINTS:
            return
        if is_provider_request(req, endpoint):
            limits.check_webhook_body(req, webhook_limit)
            if validator is not None:
                check_signature(req, validator, public_base_url)
        elif api_tokens:
            check_bearer(req, api_tokens)


def is_provider_request(req: Request, endpoint: str) -> bool:
    """Provider webhooks, and the form-encoded shape of ``/messages/inbound``."""
    return endpoint in PROVIDER_ENDPOINTS or (
        endpoint == "messages.inbound" and req.mimetype == FORM
    )


def check_bearer(req: Request, tokens: Sequence[str]) -> None:
    """Stop the request with 401 unless it carries one of ``tokens`` as a bearer token."""
    scheme, _, presented = req.headers.get("Authorization", "").partition(" ")
    candidate = presented.strip().encode()
    # Compare with every token, so the time taken says nothing about which one was close.
    matches = [hmac.compare_digest(candidate, token.encode()) for token in tokens]
    if scheme.lower() != "bearer" or not any(matches):
        log.warning(
            "%s %s refused: %s",
            req.method,
            req.path,
            "no bearer token" if not candidate else "wrong bearer token",
            extra={"event": "token_refused", "endpoint": req.endpoint},
        )
        reject(
            401,
            "A valid 'Authorization: Bearer <token>' header is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )


def check_signature(req: Request, validator: RequestValidator, public_base_url: str) -> None:
    """Stop the request with 403 unless its ``X-Twilio-Signature`` matches.

    The signature covers the address the provider called, which behind a
    TLS-terminating proxy is the public https address, not the one this process
    sees: so it is rebuilt from ``SHIFTFILL_PUBLIC_BASE_URL``.
    """
    url = public_base_url + req.path
    if req.query_string:
        url += "?" + req.query_string.decode("latin-1")
    signature = req.headers.get(SIGNATURE_HEADER, "")
    if not signature or not validator.validate(url, req.form, signature):
        log.warning(
            "%s %s refused: %s",
            req.method,
            req.path,
            f"no {SIGNATURE_HEADER}" if not signature else f"{SIGNATURE_HEADER} does not match",
            extra={"event": "signature_refused", "endpoint": req.endpoint},
        )
        reject(403, f"The {SIGNATURE_HEADER} header is missing or does not match.")
