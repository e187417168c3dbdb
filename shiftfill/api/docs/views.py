"""``/docs``: the OpenAPI document shown with Swagger UI, every file served by shiftfill.

Swagger UI's files come from the installed ``flask-swagger-ui`` package (its
``dist`` folder only; its blueprint is not used), so the page works offline, and
its Content-Security-Policy holds the browser to this server: no CDN, no font
service, no outside validator.

The page and its files are static and open, like ``/health``: they hold no data.
The document itself (``/openapi.json``) stays behind the ops token like every
other operation; when the server answers it with 401, the page asks for the token
and sends it with each request it makes, keeping it in memory only.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, abort, render_template, send_from_directory, url_for

SWAGGER_UI = Path(flask_swagger_ui.__file__).parent / "dist"
OWN = Path(__file__).parent / "static"
# The only files ``/docs/<name>`` serves, and the folder of each.
ASSETS = {
    "swagger-ui-bundle.js": SWAGGER_UI,
    "swagger-ui.css": SWAGGER_UI,
    "favicon-32x32.png": SWAGGER_UI,
    "docs.js": OWN,
    "docs.css": OWN,
}
# Scripts, styles, images and requests from this server only. Swagger UI sets
# inline styles and draws its icons as data: images.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

blp = Blueprint("docs", __name__, url_prefix="/docs", template_folder="templates")


@blp.get("")
def page() -> str:
    """Show the API document."""
    return render_template("docs/page.html", spec_url=url_for("api-docs.openapi_json"))


@blp.get("/<name>")
def asset(name: str) -> Response:
    """Serve one of the page's files."""
    folder = ASSETS.get(name)
    if folder is None:
        abort(404)
    return send_from_directory(folder, name)


@blp.after_request
def confine(response: Response) -> Response:
    """Hold the page to this server, and keep it out of frames and referrers."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
