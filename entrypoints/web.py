"""The web page for people: ``/`` and its files under ``/static/``.

The page is static: its script calls the JSON API (``/trigger_report``,
``/get_report/<id>``, ``/reports``, ``/stores/<id>``) with the bearer token
it asks for when the server answers 401. So the page and its files hold no
data and are open to all (``entrypoints.flask_app`` lets ``/`` and
``/static/`` through without a token).
"""

from __future__ import annotations

from flask import Blueprint, Response

from entrypoints.api_spec import api

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/static")

# The page loads nothing from elsewhere and runs no inline script; a browser
# that honours this refuses anything injected.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


@bp.route("/", methods=["GET"])
# The page is for people: no part of the API's document.
@api.undocumented
def index() -> Response:
    response = bp.send_static_file("index.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # A new release's page is fetched again, not taken from a cache.
    response.headers["Cache-Control"] = "no-cache"
    return response

