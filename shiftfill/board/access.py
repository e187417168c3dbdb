"""Who may use the board: a signed session cookie after the ops token, a CSRF token per form.

With ``SHIFTFILL_API_TOKEN`` set, a person logs in once with an ops token and gets
a session cookie signed with ``SHIFTFILL_SECRET_KEY`` (the configuration refuses
the token without the key). The session holds no token, only a keyed digest of
the one used, so rotating that token out of ``SHIFTFILL_API_TOKEN`` ends the
sessions opened with it. Without a token the board is open, like the API.

Every action (a POST) carries a CSRF token: the one in the session, or, on an open
board without a secret key to sign sessions, the one in a cookie of its own that a
form on another site can neither read nor send (``SameSite=Strict``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, g, request, session
from werkzeug import Response

SESSION_COOKIE = "shiftfill_board"
CSRF_COOKIE = "shiftfill_board_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/board"
# A session lasts a long shift; then the ops token is asked for again.
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Access:
    """The board's access settings, read once from the app's configuration."""

    tokens: tuple[str, ...]
    secret_key: str
    secure: bool

    @property
    def guarded(self) -> bool:
        """True when the board asks for an ops token."""
        return bool(self.tokens)

    def fingerprint(self, token: str) -> str:
        """A keyed digest of ``token``: what the session keeps instead of the token."""
        return hmac.new(self.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def init_app(app: Flask) -> Access:
    """Sign the app's session cookie with the secret key and hold it to the board's paths."""
    public_base_url: str = app.config.get("SHIFTFILL_PUBLIC_BASE_URL", "")
    access = Access(
        tokens=tuple(app.config.get("SHIFTFILL_API_TOKENS", ())),
        secret_key=app.config.get("SHIFTFILL_SECRET_KEY", ""),
        secure=public_base_url.startswith("https://"),
    )
    if access.secret_key:
        app.secret_key = access.secret_key
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH=COOKIE_PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=access.secure,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.extensions["shiftfill_board"] = access
    return access


def current() -> Access:
    """The access settings of the app serving this request."""
    access: Access = current_app.extensions["shiftfill_board"]
    return access


def signed_in() -> bool:
    """True when this request may see the board: it is open, or the session names a live token."""
    access = current()
    if not access.guarded:
        return True
    who = session.get("who")
    if not isinstance(who, str):
        return False
    return any([hmac.compare_digest(who, access.fingerprint(t)) for t in access.tokens])


def sign_in(presented: str) -> bool:
    """Open a session if ``presented`` is an ops token; False (and nothing changed) otherwise."""
    access = current()
    candidate = presented.strip().encode()
    # Compare with every token, so the time taken says nothing about which one was close.
    matches = [hmac.compare_digest(candidate, t.encode()) for t in access.tokens]
    if not candidate or not any(matches):
        return False
    session.clear()
    session.permanent = True
    session["who"] = access.fingerprint(access.tokens[matches.index(True)])
    session["csrf"] = secrets.token_urlsafe(32)
    return True


def sign_out() -> None:
    """End the session: the browser is told to forget the cookie."""
    session.clear()


def csrf_token() -> str:
    """The token this browser's forms must carry, made on first use."""
    if current().secret_key:
        token = session.get("csrf")
        if not isinstance(token, str) or not token:
            token = session["csrf"] = secrets.token_urlsafe(32)
        return token
    token = request.cookies.get(CSRF_COOKIE) or g.get("board_new_csrf")
    if not token:
        token = g.board_new_csrf = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    """True when the request carries this browser's CSRF token, in the form or a header."""
    presented = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    expected = session.get("csrf") if current().secret_key else request.cookies.get(CSRF_COOKIE)
    if not presented or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def set_csrf_cookie(response: Response) -> Response:
    """Hand an open board's browser the CSRF token its forms were given, as a cookie."""
    token = g.get("board_new_csrf")
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=current().secure,
        )
    return response
