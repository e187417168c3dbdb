"""``/board``: the live board for the people who fill shifts, and its two actions.

Pages are rendered here; the script on them asks ``.../state`` once a second for
the same part of the page rendered again, with the digest of the last one it has
(``If-None-Match``): an unchanged board costs a 304. The state is read from the
store on every request, so any process on any host serves it, and a change made
anywhere (a reply, the phone round, another process's API call) shows within a
poll. The actions call the same service functions as the API.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug import Response as BaseResponse

from shiftfill.api.context import services
from shiftfill.api.errors import ERROR_CODES, OTHER_ERROR, STORE_UNAVAILABLE
from shiftfill.board import access
from shiftfill.board.present import HELPERS
from shiftfill.services import board, fanout, shifts
from shiftfill.services.errors import Conflict, NotFound, ServiceError
from shiftfill.services.ports import StoreUnavailable

log = logging.getLogger(__name__)

blp = Blueprint(
    "board",
    __name__,
    url_prefix="/board",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Reachable without a session: the login page and the files every page needs.
OPEN_ENDPOINTS = frozenset({"board.login", "board.login_page", "board.static"})
# What the script asks for: without a session, a 401 it acts on rather than a login page.
FEED_ENDPOINTS = frozenset({"board.state", "board.shift_state"})
# How often the script asks for the state, in milliseconds.
POLL_MS = 1000
# Scripts, styles and requests from this server only; forms post to it only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SERVICE_STATUS = {NotFound: 404, Conflict: 409}


@blp.before_request
def require_session() -> BaseResponse | None:
    """Send a browser without a session to the login page; refuse an action without CSRF."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not access.signed_in():
        if request.method == "GET" and request.endpoint not in FEED_ENDPOINTS:
            return redirect(url_for("board.login_page"), 303)
        return problem(401, "Log in to use the board.", login=url_for("board.login_page"))
    if request.method == "POST" and request.endpoint != "board.logout" and not access.csrf_ok():
        log.warning(
            "%s %s refused: no valid CSRF token",
            request.method,
            request.path,
            extra={"event": "csrf_refused", "endpoint": request.endpoint},
        )
        return problem(403, "This form has expired: reload the page and try again.")
    return None


@blp.after_request
def confine(response: BaseResponse) -> BaseResponse:
    """Hold the pages to this server; never keep a board (or its CSRF token) in a cache."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "board.static":
        response.headers["Cache-Control"] = "no-store"
    return access.set_csrf_cookie(response)


@blp.errorhandler(StoreUnavailable)
def store_unavailable(_: StoreUnavailable) -> BaseResponse:
    """Say the store is down, as a page or to the script, which keeps asking."""
    return problem(
        503, "The store cannot be reached right now; the board will try again.", STORE_UNAVAILABLE
    )


@blp.context_processor
def helpers() -> dict[str, Any]:
    """Give the templates the board's ways of writing times, events and rounds."""
    return {**HELPERS, "csrf_field": access.CSRF_FIELD, "guarded": access.current().guarded}


@blp.get("")
def index() -> BaseResponse:
    """Show the open shifts and the recent fills."""
    organization = request.args.get("organization") or None
    overview = board.overview(services(), organization)
    return page(
        "board/index.html",
        "board/_overview.html",
        state_url=url_for("board.state", organization=organization),
        here=url_for("board.index", organization=organization),
        overview=overview,
        now=overview.now,
        organizations=overview.organizations,
        selected=organization,
    )


@blp.get("/state")
def state() -> BaseResponse:
    """The live part of the board, rendered again, or 304 when it has not changed."""
    organization = request.args.get("organization") or None
    overview = board.overview(services(), organization)
    return live_state(
        "board/_overview.html",
        overview=overview,
        now=overview.now,
        selected=organization,
        here=url_for("board.index", organization=organization),
    )


@blp.get("/shifts/<shift_id>")
def shift(shift_id: str) -> BaseResponse:
    """Show one shift: its fanout, who was asked and left out, its texts, calls and events."""
    try:
        detail = board.shift_detail(services(), shift_id)
    except NotFound as exc:
        return problem(404, str(exc))
    return page(
        "board/shift.html",
        "board/_shift.html",
        state_url=url_for("board.shift_state", shift_id=shift_id),
        here=url_for("board.shift", shift_id=shift_id),
        detail=detail,
        now=detail.now,
    )


@blp.get("/shifts/<shift_id>/state")
def shift_state(shift_id: str) -> BaseResponse:
    """The live part of a shift's page, rendered again, or 304 when it has not changed."""
    try:
        detail = board.shift_detail(services(), shift_id)
    except NotFound as exc:
        return problem(404, str(exc))
    return live_state(
        "board/_shift.html",
        detail=detail,
        now=detail.now,
        here=url_for("board.shift", shift_id=shift_id),
    )


@blp.post("/shifts/<shift_id>/fanout")
def start_fanout(shift_id: str) -> BaseResponse:
    """Start the shift's fanout, as ``POST /shifts/<id>/fanout`` does."""
    try:
        started_shift, started = fanout.start_fanout(services(), shift_id)
    except ServiceError as exc:
        return problem(SERVICE_STATUS.get(type(exc), 409), str(exc))
    offered = len(started_shift.fanout.offered_caregiver_ids) if started_shift.fanout else 0
    if not started:
        message = f"The fanout of shift {shift_id} had already started: nothing was sent again."
    elif offered:
        message = f"Fanout started: texting {offered} caregivers about shift {shift_id}."
    else:
        message = f"Fanout started, but nobody qualifies for shift {shift_id}."
    return done(202 if started else 200, message, shift_id)


@blp.get("/shifts/<shift_id>/cancel")
def confirm_cancel(shift_id: str) -> BaseResponse:
    """Ask before cancelling (the script asks in a dialog instead)."""
    try:
        detail = board.shift_detail(services(), shift_id)
    except NotFound as exc:
        return problem(404, str(exc))
    return Response(
        render_template(
            "board/confirm_cancel.html",
            detail=detail,
            csrf=access.csrf_token(),
            here=safe_next(request.args.get("next")) or url_for("board.index"),
        )
    )


@blp.post("/shifts/<shift_id>/cancel")
def cancel(shift_id: str) -> BaseResponse:
    """Cancel the shift, as ``POST /shifts/<id>/cancel`` does."""
    try:
        shifts.cancel_shift(services(), shift_id)
    except ServiceError as exc:
        return problem(SERVICE_STATUS.get(type(exc), 409), str(exc))
    return done(200, f"Shift {shift_id} is cancelled: later accepts hear it is gone.", shift_id)


@blp.get("/login")
def login_page() -> BaseResponse:
    """Ask for the ops token (an open board needs none)."""
    if not access.current().guarded or access.signed_in():
        return redirect(url_for("board.index"), 303)
    return Response(render_template("board/login.html"))


@blp.post("/login")
def login() -> BaseResponse:
    """Open a session for an ops token; the login page again, with 401, for anything else."""
    if not access.current().guarded:
        return redirect(url_for("board.index"), 303)
    if access.sign_in(request.form.get("token", "")):
        log.info("board session opened", extra={"event": "board_login"})
        return redirect(url_for("board.index"), 303)
    log.warning(
        "POST %s refused: wrong ops token",
        request.path,
        extra={"event": "token_refused", "endpoint": request.endpoint},
    )
    html = render_template("board/login.html", error="That is not an ops token. Try again.")
    return Response(html, status=401)


@blp.post("/logout")
def logout() -> BaseResponse:
    """End the session."""
    access.sign_out()
    target = "board.login_page" if access.current().guarded else "board.index"
    return redirect(url_for(target), 303)


def page(
    template: str, live_template: str, *, state_url: str, here: str, **context: Any
) -> BaseResponse:
    """A whole page around its live part, which carries the digest the script compares."""
    live, version = render_live(live_template, here=here, **context)
    html = render_template(
        template,
        live=live,
        version=version,
        state_url=state_url,
        poll_ms=POLL_MS,
        here=here,
        csrf=access.csrf_token(),
        **context,
    )
    return Response(html)


def live_state(live_template: str, **context: Any) -> BaseResponse:
    """The live part as JSON with its digest as the ETag; 304 when the browser has it."""
    live, version = render_live(live_template, **context)
    if version in request.if_none_match:
        response = Response(status=304)
    else:
        now = context["now"]
        response = jsonify(version=version, html=str(live), now=now.isoformat())
    response.set_etag(version)
    return response


def render_live(template: str, **context: Any) -> tuple[Markup, str]:
    """Render the live part of a page, and name it by its digest."""
    html = render_template(template, csrf=access.csrf_token(), **context)
    return Markup(html), hashlib.sha256(html.encode()).hexdigest()[:32]


def done(status: int, message: str, shift_id: str) -> BaseResponse:
    """Answer an action: JSON for the script; for a form, back to the page it came from."""
    if wants_json():
        response = jsonify(message=message, shift_id=shift_id)
        response.status_code = status
        return response
    target = safe_next(request.form.get("next")) or url_for("board.shift", shift_id=shift_id)
    return redirect(target, 303)


def problem(status: int, message: str, code: str | None = None, **extra: str) -> BaseResponse:
    """An error: the API's error body for the script, a short page for a person."""
    if wants_json():
        code = code or ERROR_CODES.get(status, OTHER_ERROR)
        # The API's error body (no field is to blame here), plus what the script acts on.
        response = jsonify(error={"code": code, "message": message, "fields": {}, **extra})
    else:
        response = Response(render_template("board/problem.html", message=message, **extra))
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a page of the board, so a form can never send a browser away."""
    if not target or not target.startswith("/board") or "\\" in target or "//" in target:
        return None
    return target
