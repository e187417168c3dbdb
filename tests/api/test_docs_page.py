"""``/docs``: the API document for people, every file from this server, no data without a token."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

from tests.conftest import RN_PHONES, build_app

TOKEN = "ops-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class References(HTMLParser):
    """The addresses a page makes the browser load: scripts, styles, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.spec_url: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.found.append(str(values[name]))
        if tag == "body":
            self.spec_url = values.get("data-spec-url")


def references(html: str) -> References:
    parser = References()
    parser.feed(html)
    return parser


@pytest.fixture
def guarded() -> FlaskClient:
    return build_app(
        {"SHIFTFILL_API_TOKEN": TOKEN, "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789"}
    ).test_client()


def test_docs_is_a_page_whose_every_file_this_server_serves(guarded: FlaskClient) -> None:
    page = guarded.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    found = references(page.get_data(as_text=True))
    assert found.spec_url == "/openapi.json"
    assert len(found.found) >= 4
    for address in found.found:
        assert address.startswith("/") and not address.startswith("//"), address
        with guarded.get(address) as asset:  # closes the file it sends
            assert asset.status_code == 200, address
            assert asset.mimetype in {"text/css", "text/javascript", "image/png"}, address
            assert len(asset.data) > 0


def test_the_page_holds_the_browser_to_this_server(guarded: FlaskClient) -> None:
    policy = guarded.get("/docs").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    with guarded.get("/docs/docs.js") as response:
        own_script = response.get_data(as_text=True)
    assert re.search(r"https?://", own_script) is None
    assert "validatorUrl: null" in own_script


def test_the_page_and_its_files_are_open_but_the_document_needs_the_token(
    guarded: FlaskClient,
) -> None:
    created = guarded.post(
        "/caregivers",
        json={"name": "Ana Lima", "role": "RN", "phone": RN_PHONES[0]},
        headers=BEARER,
    )
    assert created.status_code == 201
    anonymous = guarded.get("/docs")
    assert anonymous.status_code == 200
    assert anonymous.data == guarded.get("/docs", headers=BEARER).data
    assert b"Ana Lima" not in anonymous.data
    with guarded.get("/docs/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200
    refused = guarded.get("/openapi.json")
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "unauthorized"
    assert guarded.get("/openapi.json", headers=BEARER).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/docs/index.html", "/docs/oauth2-redirect.html", "/docs/VERSION", "/docs/..%2Fviews.py"],
)
def test_docs_serves_no_file_but_the_pages_own(guarded: FlaskClient, path: str) -> None:
    response = guarded.get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
