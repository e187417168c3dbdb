"""``/board``: who may see it and act on it, and what it shows, through Flask's test client.

The board in a real browser, live updates included, is tested in
tests/server/test_board_browser.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory

from config import ConfigError, config_from_env
from shiftfill.app import create_app
from shiftfill.bootstrap import Runtime
from shiftfill.domain.webhooks import Attempt, after_attempt
from shiftfill.services import fanout, webhooks
from shiftfill.services.ports import StoreUnavailable
from tests.conftest import RN_PHONES, build_app, shift_body, tomorrow_at

TOKEN = "board-ops-token"
KEY = "board-signing-key-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
GUARDED = {"SHIFTFILL_API_TOKEN": TOKEN, "SHIFTFILL_SECRET_KEY": KEY}
AS_SCRIPT = {"Accept": "application/json"}


class Page(HTMLParser):
    """What a person gets from a page: its text, its CSRF token, the files it loads."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.words: list[str] = []
        self.csrf: str | None = None
        self.loads: list[str] = []
        self._skipping: list[str] = []
        self.feed(html)
        self.text = re.sub(r"\s+", " ", "".join(self.words)).strip()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name") == "csrf_token":
            self.csrf = values.get("value")
        if (tag == "script" and values.get("src")) or (tag == "link" and values.get("href")):
            self.loads.append(str(values.get("src") or values.get("href")))
        if tag in {"td", "th", "dt", "dd", "li", "p", "div", "tr", "h1", "h2", "h3"}:
            self.words.append(" ")
        # What the browser does not show: scripts, a closed dialog, a hidden element.
        if tag in {"script", "style", "dialog"} or "hidden" in values or self._skipping:
            self._skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.words.append(data)


def page(client: FlaskClient, path: str) -> Page:
    response = client.get(path)
    assert response.status_code == 200, response.data
    return Page(response.get_data(as_text=True))


def runtime_of(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["shiftfill"]
    return runtime


def api(client: FlaskClient, method: str, path: str, body: Any = None) -> Any:
    response = client.open(path, method=method, json=body, headers=BEARER)
    assert response.status_code < 300, response.json
    return response.json


def log_in(client: FlaskClient) -> Page:
    response = client.post("/board/login", data={"token": TOKEN})
    assert response.status_code == 303
    return page(client, "/board")


def set_cookie_headers(response: Any) -> list[str]:
    return [value for name, value in response.headers if name.lower() == "set-cookie"]


@pytest.fixture
def guarded_app() -> Flask:
    app = build_app(GUARDED)
    client = app.test_client()
    api(client, "POST", "/caregivers", {"id": "cg_1", "name": "Ana Lima", "role": "RN",
                                        "phone": RN_PHONES[0]})  # fmt: skip
    api(client, "POST", "/shifts", shift_body(id="sh_1"))
    api(client, "POST", "/shifts", shift_body(id="sh_2", start_time=tomorrow_at(8).isoformat()))
    return app


@pytest.fixture
def guarded(guarded_app: Flask) -> FlaskClient:
    return guarded_app.test_client()


def test_without_a_session_pages_send_the_browser_to_log_in(guarded: FlaskClient) -> None:
    for path in ("/board", "/board/shifts/sh_1", "/board/shifts/sh_1/cancel"):
        response = guarded.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"] == "/board/login"
    # The script's feed and the actions say so instead; nothing is shown or changed.
    assert guarded.get("/board/state", headers=AS_SCRIPT).status_code == 401
    assert guarded.post("/board/shifts/sh_1/fanout", headers=AS_SCRIPT).status_code == 401
    assert api(guarded, "GET", "/shifts/sh_1")["fanout"] is None
    # A bearer token is the API's way in, not the board's.
    assert guarded.get("/board", headers=BEARER).status_code == 303
    login = page(guarded, "/board/login")
    assert "Ops token" in login.text and "Log out" not in login.text
    assert "Sun" not in login.text  # no shift on it


def test_an_ops_token_opens_a_session_in_a_strict_http_only_cookie(guarded: FlaskClient) -> None:
    response = guarded.post("/board/login", data={"token": TOKEN})
    assert response.status_code == 303
    assert response.headers["Location"] == "/board"
    [cookie] = set_cookie_headers(response)
    assert cookie.startswith("shiftfill_board=")
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert flags["samesite"].strip() == "SameSite=Strict"
    assert flags["path"].strip() == "Path=/board"
    assert "secure" not in flags  # no https public address: a Secure cookie would never return
    assert TOKEN not in cookie
    board = page(guarded, "/board")
    assert "Open shifts 2" in board.text


def test_the_session_cookie_is_secure_behind_an_https_public_address() -> None:
    client = build_app(
        {**GUARDED, "SHIFTFILL_PUBLIC_BASE_URL": "https://shiftfill.example.com"}
    ).test_client()
    response = client.post("/board/login", data={"token": TOKEN})
    [cookie] = set_cookie_headers(response)
    assert "Secure" in [part.strip() for part in cookie.split(";")]


@pytest.mark.parametrize("token", ["wrong-token", "", TOKEN[:-1], f"{TOKEN},x"])
def test_a_wrong_token_gets_the_login_page_again_with_401_and_no_session(
    guarded: FlaskClient, token: str
) -> None:
    response = guarded.post("/board/login", data={"token": token})
    assert response.status_code == 401
    assert set_cookie_headers(response) == []
    refused = Page(response.get_data(as_text=True))
    assert "That is not an ops token" in refused.text
    assert "Ops token" in refused.text
    assert guarded.get("/board").status_code == 303


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_an_action_without_the_csrf_token_is_403_and_changes_nothing(
    guarded_app: Flask, guarded: FlaskClient, csrf: str | None
) -> None:
    log_in(guarded)
    form = {} if csrf is None else {"csrf_token": csrf}
    for action in ("fanout", "cancel"):
        response = guarded.post(f"/board/shifts/sh_1/{action}", data=form)
        assert response.status_code == 403, action
        assert "expired" in Page(response.get_data(as_text=True)).text
    assert guarded.post("/board/shifts/sh_1/cancel", headers=AS_SCRIPT).status_code == 403
    shift = api(guarded, "GET", "/shifts/sh_1")
    assert (shift["status"], shift["fanout"]) == ("open", None)
    assert runtime_of(guarded_app).deps.notifier.sent == []  # type: ignore[attr-defined]


def test_a_csrf_token_of_another_session_is_refused(
    guarded: FlaskClient, guarded_app: Flask
) -> None:
    other = guarded_app.test_client()
    stolen = log_in(other).csrf
    log_in(guarded)
    response = guarded.post("/board/shifts/sh_1/cancel", data={"csrf_token": stolen})
    assert response.status_code == 403
    assert api(guarded, "GET", "/shifts/sh_1")["status"] == "open"


def test_the_actions_start_the_fanout_and_cancel_as_the_api_does(
    guarded_app: Flask, guarded: FlaskClient
) -> None:
    board = log_in(guarded)
    assert board.csrf
    started = guarded.post(
        "/board/shifts/sh_1/fanout", data={"csrf_token": board.csrf, "next": "/board"}
    )
    assert started.status_code == 303
    assert started.headers["Location"] == "/board"
    assert runtime_of(guarded_app).sender.wait_idle(5)
    assert api(guarded, "GET", "/shifts/sh_1")["fanout"]["offered_caregiver_ids"] == ["cg_1"]
    assert "Texts sent 1 of 1" in page(guarded, "/board").text
    again = guarded.post(
        "/board/shifts/sh_1/fanout", data={"csrf_token": board.csrf}, headers=AS_SCRIPT
    )
    assert again.status_code == 200
    assert "already started" in again.json["message"]
    # From the script: the token in a header, the answer in JSON.
    cancelled = guarded.post(
        "/board/shifts/sh_2/cancel", headers={**AS_SCRIPT, "X-CSRF-Token": board.csrf}
    )
    assert cancelled.status_code == 200, cancelled.json
    assert "cancelled" in cancelled.json["message"]
    assert api(guarded, "GET", "/shifts/sh_2")["status"] == "cancelled"
    conflict = guarded.post(
        "/board/shifts/sh_2/fanout", data={"csrf_token": board.csrf}, headers=AS_SCRIPT
    )
    assert conflict.status_code == 409
    assert conflict.json["error"]["code"] == "conflict"
    unknown = guarded.post("/board/shifts/nope/cancel", data={"csrf_token": board.csrf})
    assert unknown.status_code == 404
    assert "No shift with id nope" in Page(unknown.get_data(as_text=True)).text


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/", "//evil.example.com/board", "/\\evil.example.com"]
)
def test_an_action_never_sends_the_browser_off_the_board(guarded: FlaskClient, target: str) -> None:
    csrf = log_in(guarded).csrf
    response = guarded.post("/board/shifts/sh_1/cancel", data={"csrf_token": csrf, "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/board/shifts/sh_1"


def test_cancelling_without_the_script_asks_first_on_a_page(guarded: FlaskClient) -> None:
    log_in(guarded)
    ask = page(guarded, "/board/shifts/sh_1/cancel?next=/board")
    assert "Cancel this shift?" in ask.text
    assert api(guarded, "GET", "/shifts/sh_1")["status"] == "open"
    response = guarded.post("/board/shifts/sh_1/cancel", data={"csrf_token": ask.csrf})
    assert response.status_code == 303
    assert api(guarded, "GET", "/shifts/sh_1")["status"] == "cancelled"


def test_logging_out_ends_the_session(guarded: FlaskClient) -> None:
    log_in(guarded)
    response = guarded.post("/board/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/board/login"
    [cookie] = set_cookie_headers(response)
    assert cookie.startswith("shiftfill_board=;") and "Expires=Thu, 01 Jan 1970" in cookie
    assert guarded.get("/board").status_code == 303


def test_a_token_rotated_out_ends_the_sessions_opened_with_it() -> None:
    before = build_app({**GUARDED, "SHIFTFILL_API_TOKEN": f"{TOKEN},old-token"}).test_client()
    after = build_app(GUARDED).test_client()
    for client, token in ((before, "old-token"), (after, TOKEN)):
        assert client.post("/board/login", data={"token": token}).status_code == 303
    old = before.get_cookie("shiftfill_board", path="/board")
    assert old is not None
    after.set_cookie("shiftfill_board", old.value, path="/board")
    assert after.get("/board").status_code == 303


def test_start_up_refuses_the_ops_token_without_a_secret_key_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = (
        "SHIFTFILL_SECRET_KEY must be set when SHIFTFILL_API_TOKEN is: the board's sessions "
        "are signed with it."
    )
    with pytest.raises(ConfigError) as refused:
        config_from_env({"SHIFTFILL_API_TOKEN": TOKEN})
    assert str(refused.value) == expected
    with pytest.raises(ConfigError, match="SHIFTFILL_SECRET_KEY must be at least 16"):
        config_from_env({**GUARDED, "SHIFTFILL_SECRET_KEY": "short"})
    # The app factory reading the environment stops with that line, not a traceback.
    monkeypatch.setenv("SHIFTFILL_API_TOKEN", TOKEN)
    monkeypatch.delenv("SHIFTFILL_SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert str(stopped.value) == f"shiftfill: {expected}"


def test_without_an_ops_token_the_board_is_open_but_its_actions_still_need_csrf() -> None:
    app = build_app({})
    client = app.test_client()
    api(client, "POST", "/shifts", shift_body(id="sh_1"))
    assert client.get("/board/login").headers["Location"] == "/board"
    board = page(client, "/board")
    assert "Log out" not in board.text
    assert client.post("/board/shifts/sh_1/cancel").status_code == 403
    # The token the page gave is held in a strict cookie of the board's; the two must agree.
    cookie = client.get_cookie("shiftfill_board_csrf", path="/board")
    assert cookie is not None and cookie.value == board.csrf
    response = client.post("/board/shifts/sh_1/cancel", data={"csrf_token": board.csrf})
    assert response.status_code == 303
    assert api(client, "GET", "/shifts/sh_1")["status"] == "cancelled"


def test_the_feed_is_304_until_the_store_changes(guarded_app: Flask, guarded: FlaskClient) -> None:
    log_in(guarded)
    first = guarded.get("/board/state", headers=AS_SCRIPT)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.strip('"') == first.json["version"]
    assert "Not started" in first.json["html"]
    same = guarded.get("/board/state", headers={**AS_SCRIPT, "If-None-Match": etag})
    assert same.status_code == 304
    # A change through the API (any process, on a shared store) is in the next answer.
    api(guarded, "POST", "/shifts/sh_1/fanout")
    assert runtime_of(guarded_app).sender.wait_idle(5)
    changed = guarded.get("/board/state", headers={**AS_SCRIPT, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "Texts sent <strong>1 of 1</strong>" in changed.json["html"]
    assert changed.headers["Cache-Control"] == "no-store"


@pytest.fixture
def chicago(frozen: FrozenDateTimeFactory) -> tuple[Flask, FlaskClient]:
    """Sunrise Home Health in Chicago, with three RNs and an RN day shift tomorrow."""
    app = build_app(GUARDED)
    client = app.test_client()
    api(client, "POST", "/organizations",
        {"id": "org_1", "name": "Sunrise Home Health", "time_zone": "America/Chicago"})  # fmt: skip
    for cid, name, phone in zip(
        ("cg_1", "cg_3", "cg_5"), ("Ana Lima", "Chen Wei", "Eli Haddad"), RN_PHONES, strict=True
    ):
        api(client, "POST", "/caregivers", {"id": cid, "name": name, "role": "RN", "phone": phone})
    api(client, "POST", "/shifts", shift_body(id="sh_1", organization_id="org_1"))
    log_in(client)
    return app, client


def test_the_board_shows_a_fanout_in_the_organizations_local_time(
    chicago: tuple[Flask, FlaskClient], frozen: FrozenDateTimeFactory
) -> None:
    app, client = chicago
    board = page(client, "/board")
    # 2026-11-29 07:00 UTC is 1:00 AM in Chicago; the frozen now is 2026-11-28 14:00 UTC.
    assert "Sun Nov 29, 1:00 AM - 1:00 PM CST" in board.text
    assert "in 17 h 00 min" in board.text
    assert "Not started" in board.text
    client.post("/board/shifts/sh_1/fanout", data={"csrf_token": board.csrf})
    assert runtime_of(app).sender.wait_idle(5)
    frozen.tick(timedelta(minutes=3))
    client.post("/messages/inbound", json={"from": RN_PHONES[1], "body": "no"}, headers=BEARER)
    board = page(client, "/board")
    assert "Texts sent 3 of 3" in board.text
    assert "declined 1" in board.text
    # The phone round comes 10 minutes after the fanout: 8:10 AM in Chicago.
    assert "phone round at 8:10 AM CST (in 7 min)" in board.text, board.text
    assert "started 3 min ago" in board.text


def test_the_phone_round_shows_when_it_ran_and_how_many_were_called(
    chicago: tuple[Flask, FlaskClient], frozen: FrozenDateTimeFactory
) -> None:
    app, client = chicago
    api(client, "POST", "/shifts/sh_1/fanout")
    client.post("/messages/inbound", json={"from": RN_PHONES[0], "body": "no"}, headers=BEARER)
    frozen.tick(timedelta(minutes=10))
    fanout.run_due_phone_rounds(runtime_of(app).deps)
    assert runtime_of(app).sender.wait_idle(5)
    board = page(client, "/board")
    assert "phone round at 8:10 AM CST · called 2" in board.text


def test_a_shift_filled_early_shows_no_phone_round_and_each_answer_with_the_clients_name(
    chicago: tuple[Flask, FlaskClient], frozen: FrozenDateTimeFactory
) -> None:
    app, client = chicago
    api(
        client, "POST", "/clients", {"id": "cl_1", "organization_id": "org_1", "name": "R. Alvarez"}
    )
    api(client, "POST", "/shifts", shift_body(id="sh_c", organization_id="org_1", client_id="cl_1",
                                              start_time=tomorrow_at(20).isoformat(),
                                              end_time=tomorrow_at(23).isoformat()))  # fmt: skip
    api(client, "POST", "/shifts/sh_c/fanout")
    assert "client R. Alvarez" in page(client, "/board").text
    assert runtime_of(app).sender.wait_idle(5)
    frozen.tick(timedelta(seconds=31.6))
    for phone, body in ((RN_PHONES[1], "yes"), (RN_PHONES[2], "yes")):
        reply = {"from": phone, "body": body, "shift_id": "sh_c"}
        client.post("/messages/inbound", json=reply, headers=BEARER)
    detail = page(client, "/board/shifts/sh_c")
    assert "Client R. Alvarez" in detail.text
    # Filled before its phone round was due: no round is shown as coming, nor as run.
    assert "phone round at" not in detail.text
    assert "32 s after the fanout started" in detail.text  # 31.6 s, as the log rounds it
    assert "Chen Wei sent — took it" in detail.text
    assert "Eli Haddad sent — yes, too late" in detail.text
    assert "Ana Lima sent — —" in detail.text


def test_the_board_filters_by_organization(chicago: tuple[Flask, FlaskClient]) -> None:
    _, client = chicago
    api(client, "POST", "/organizations",
        {"id": "org_2", "name": "Harbor Home Care", "time_zone": "America/New_York"})  # fmt: skip
    api(client, "POST", "/shifts", shift_body(id="sh_9", organization_id="org_2"))
    everything = page(client, "/board")
    assert "Open shifts 2" in everything.text
    assert "Sun Nov 29, 2:00 AM - 2:00 PM EST" in everything.text
    harbor = page(client, "/board?organization=org_2")
    assert "Open shifts 1" in harbor.text
    assert "Harbor Home Care" in harbor.text and "1:00 AM - 1:00 PM CST" not in harbor.text
    feed = client.get("/board/state?organization=org_1", headers=AS_SCRIPT).json["html"]
    assert "Sunrise Home Health" in feed and "Harbor Home Care" not in feed


def test_a_fill_shows_who_took_it_in_which_round_and_how_fast_for_a_day(
    chicago: tuple[Flask, FlaskClient], frozen: FrozenDateTimeFactory
) -> None:
    _, client = chicago
    api(client, "POST", "/shifts/sh_1/fanout")
    frozen.tick(timedelta(minutes=4, seconds=30))
    client.post("/messages/inbound", json={"from": RN_PHONES[2], "body": "yes"}, headers=BEARER)
    board = page(client, "/board")
    assert "Open shifts 0" in board.text
    assert "Filled in the last 24 hours 1" in board.text
    assert "Eli Haddad at 8:04 AM CST text 4 min" in board.text
    frozen.tick(timedelta(hours=24, seconds=1))
    assert client.get("/board").status_code == 303  # a session lasts 12 hours
    assert "Filled in the last 24 hours 0" in log_in(client).text


def test_a_shifts_page_shows_who_was_asked_and_what_happened_in_local_time(
    chicago: tuple[Flask, FlaskClient], frozen: FrozenDateTimeFactory
) -> None:
    app, client = chicago
    # Chen Wei is already booked on an overlapping shift, so is not asked.
    api(client, "POST", "/shifts", shift_body(id="sh_0", organization_id="org_1"))
    api(client, "POST", "/shifts/sh_0/fanout")
    client.post("/messages/inbound", json={"from": RN_PHONES[1], "body": "yes"}, headers=BEARER)
    before = page(client, "/board/shifts/sh_1")
    assert "Nobody has been asked yet" in before.text
    api(client, "POST", "/shifts/sh_1/fanout")
    assert runtime_of(app).sender.wait_idle(5)
    frozen.tick(timedelta(seconds=42))
    client.post(
        "/messages/inbound", json={"from": RN_PHONES[0], "body": "no", "shift_id": "sh_1"},
        headers=BEARER,
    )  # fmt: skip
    shift = page(client, "/board/shifts/sh_1")
    assert "Asked 2" in shift.text
    assert "Ana Lima sent — declined" in shift.text
    assert "Eli Haddad sent — —" in shift.text
    assert "Left out 1 Chen Wei: booked on an overlapping shift" in shift.text
    assert "Sat Nov 28, 8:00:00 AM CST Fanout started" in shift.text
    assert "Sat Nov 28, 8:00:42 AM CST Declined · Ana Lima" in shift.text
    assert "Offer code" in shift.text
    missing = client.get("/board/shifts/nope")
    assert missing.status_code == 404
    assert "No shift with id nope" in Page(missing.get_data(as_text=True)).text


def test_a_shifts_page_ranks_the_candidates_and_names_who_is_left_out_and_why(
    chicago: tuple[Flask, FlaskClient],
) -> None:
    app, client = chicago
    api(client, "POST", "/clients", {"id": "cl_1", "organization_id": "org_1",
        "name": "R. Alvarez", "preferred_caregiver_ids": ["cg_5"],
        "excluded_caregiver_ids": ["cg_3"]})  # fmt: skip
    api(client, "POST", "/caregivers", {"id": "cg_7", "name": "Dee Park", "role": "LPN",
                                        "phone": "+15555550107"})  # fmt: skip
    api(client, "POST", "/shifts", shift_body(id="sh_c", organization_id="org_1", client_id="cl_1"))
    shift = page(client, "/board/shifts/sh_c")
    assert "Candidates 2" in shift.text
    # The client's preferred caregiver first, then the rest; nobody texted yet.
    assert "1 Eli Haddad preferred — 0 h not texted" in shift.text
    assert "2 Ana Lima — — 0 h not texted" in shift.text
    assert "Left out 1 Chen Wei: excluded by the client" in shift.text
    assert "1 caregiver of other roles not listed" in shift.text
    assert "Dee Park" not in shift.text
    api(client, "POST", "/shifts/sh_c/fanout")
    # The send workers run: once they are idle, the text shows as sent.
    assert app.extensions["shiftfill"].sender.wait_idle(5)
    assert "1 Eli Haddad preferred — 0 h sent at" in page(client, "/board/shifts/sh_c").text


def test_a_waves_organization_shows_the_wave_sent_and_when_the_next_goes(
    frozen: FrozenDateTimeFactory,
) -> None:
    client = build_app(GUARDED).test_client()
    api(client, "POST", "/organizations", {"id": "org_w", "name": "Wave Care",
        "time_zone": "America/Chicago", "waves": {"size": 1, "interval_seconds": 300}})  # fmt: skip
    for n, phone in enumerate(RN_PHONES):
        api(client, "POST", "/caregivers", {"id": f"cg_{n}", "name": f"RN {n}", "role": "RN",
                                            "phone": phone})  # fmt: skip
    api(client, "POST", "/shifts", shift_body(id="sh_w", organization_id="org_w"))
    api(client, "POST", "/shifts/sh_w/fanout")
    log_in(client)
    # Frozen now: 8:00 AM in Chicago; the next wave goes five minutes later.
    expected = "wave 1 sent, next wave at 8:05 AM CST (in 5 min)"
    assert expected in page(client, "/board").text
    assert expected in page(client, "/board/shifts/sh_w").text


def test_a_webhook_whose_delivery_failed_shows_on_the_board_for_a_day(
    chicago: tuple[Flask, FlaskClient], frozen: FrozenDateTimeFactory
) -> None:
    app, client = chicago
    deps = runtime_of(app).deps
    now = datetime.now(UTC)
    hook = {"url": "https://hooks.example.com/shiftfill", "events": ["shift.cancelled"]}
    created = api(client, "POST", "/organizations/org_1/webhooks", hook)
    assert "Webhooks failing" not in page(client, "/board").text
    api(client, "POST", "/shifts/sh_1/cancel")
    webhooks.dispatch(deps, lambda shift: {"id": shift.id})
    ((wid, did),) = deps.store.webhooks.due(now)
    claimed = deps.store.webhooks.claim(wid, did, now, now + timedelta(seconds=90))
    assert claimed is not None and wid == created["id"]
    failed = after_attempt(claimed, Attempt(status_code=503), now=now, schedule=[])
    deps.store.webhooks.settle(failed)
    board = page(client, "/board")
    assert "Webhooks failing 1" in board.text
    assert "hooks.example.com Sunrise Home Health shift.cancelled enabled" in board.text
    assert "1 delivery failing in the last 24 hours" in board.text
    assert "shift.cancelled: HTTP 503 message of 8:00 AM CST, 1 try, given up" in board.text
    api(
        client,
        "POST",
        "/organizations",
        {"id": "org_2", "name": "Harbor Home Care", "time_zone": "UTC"},
    )
    assert "Webhooks failing" not in page(client, "/board?organization=org_2").text
    frozen.tick(timedelta(hours=11))
    assert "Webhooks failing 1" in page(client, "/board?organization=org_1").text
    frozen.tick(timedelta(hours=13, seconds=1))
    assert "Webhooks failing" not in log_in(client).text


def test_every_file_of_the_board_comes_from_this_server(
    guarded_app: Flask, guarded: FlaskClient
) -> None:
    board = log_in(guarded)
    assert len(board.loads) == 2
    login = page(guarded_app.test_client(), "/board/login")
    for address in [*board.loads, *login.loads]:
        assert address.startswith("/board/static/"), address
        with guarded.get(address) as asset:
            assert asset.status_code == 200
            assert re.search(rb"https?://", asset.data) is None, address
    policy = guarded.get("/board").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["form-action"] == "'self'"


def test_a_store_that_cannot_be_reached_is_a_503_the_script_keeps_asking_through(
    guarded_app: Flask, guarded: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(guarded)

    def unreachable(*_: Any, **__: Any) -> None:
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(runtime_of(guarded_app).deps.store.shifts, "all", unreachable)
    feed = guarded.get("/board/state", headers=AS_SCRIPT)
    assert feed.status_code == 503
    assert feed.json["error"]["code"] == "store_unavailable"
    board = guarded.get("/board")
    assert board.status_code == 503
    assert "cannot be reached" in Page(board.get_data(as_text=True)).text


def test_the_scripts_errors_have_the_apis_error_body(guarded: FlaskClient) -> None:
    """Every JSON error carries ``code``, ``message`` and ``fields``, as the API's do."""
    answers = {401: guarded.get("/board/state", headers=AS_SCRIPT)}
    board = log_in(guarded)
    answers[403] = guarded.post("/board/shifts/sh_1/cancel", headers=AS_SCRIPT)
    answers[404] = guarded.get("/board/shifts/nope/state", headers=AS_SCRIPT)
    with_csrf = {**AS_SCRIPT, "X-CSRF-Token": str(board.csrf)}
    assert guarded.post("/board/shifts/sh_2/cancel", headers=with_csrf).status_code == 200
    answers[409] = guarded.post("/board/shifts/sh_2/fanout", headers=with_csrf)
    for status, response in answers.items():
        assert response.status_code == status, response.json
        error = response.json["error"]
        assert {"code", "message", "fields"} <= set(error), (status, error)
        assert error["fields"] == {}
