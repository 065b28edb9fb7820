"""The Flask application: ``flask --app entrypoints.flask_app run``.

``create_app`` wires the container into the views and installs one error
handler, so every error (an unknown route, a wrong method, a domain error,
a bug) reaches the client as ``{"error": "..."}`` JSON, never an HTML page.
Nothing connects here: the database and the broker are first used by a request.

With ``API_TOKEN`` set, one ``before_request`` hook asks every request for
``Authorization: Bearer <API_TOKEN>``, whatever blueprint serves it; only
``/health``, the web page ``/`` and its files under ``/static/`` are open to all.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from domain.model.errors import UptimeError
from domain.ports.data import RepositoryError
from domain.ports.reports import ReportNotFound, ReportStorageError
from domain.ports.work import QueueUnavailable
from domain.use_cases.report_runs import ReportNotReady
from entrypoints import ingest_views, observability, openapi, poll_views, trend_views, views, web
from entrypoints.container import Container, make_container
from entrypoints.settings import load_settings

# The status of each domain error a view lets through; the first match wins.
DOMAIN_ERROR_STATUS: tuple[tuple[type[UptimeError], int], ...] = (
    (ReportNotFound, 404),
    (ReportNotReady, 409),
    (QueueUnavailable, 503),
    (RepositoryError, 503),
    (ReportStorageError, 500),
)


class InOrderJSONProvider(DefaultJSONProvider):
    """JSON keys in the order the views write them ("status" first), not sorted."""

    sort_keys = False


class UptimeFlask(Flask):
    """A Flask app that carries the container it was built with."""

    json_provider_class = InOrderJSONProvider
    container: Container


def create_app(container: Container | None = None) -> UptimeFlask:
    """The app over ``container``; by default one configured from the environment and ``.env``."""
    if container is None:
        container = make_container(load_settings())
    # This process's log lines, set up before anything logs.
    container.logs.init()
    # No static folder of the app's own: the web blueprint serves /static/.
    app = UptimeFlask(__name__, static_folder=None)
    app.container = container
    container.wire(modules=[views])
    app.register_blueprint(views.bp)
    app.register_blueprint(web.bp)
    ingest_views.install(app, container)
    container.wire(modules=[poll_views])
    app.register_blueprint(poll_views.bp)
    container.wire(modules=[trend_views])
    app.register_blueprint(trend_views.bp)
    app.register_blueprint(openapi.bp)
    app.register_error_handler(Exception, json_error)
    # Before the token check: a refused request is logged too.
    observability.install(app)
    install_token_check(app, container.api_token())
    return app


# Open without a token: what a load balancer probes, and the web page and its
# files (they hold no data; the page asks for the token and sends it).
PUBLIC_PATHS = frozenset({"/health", "/"})
PUBLIC_PREFIXES = ("/static/",)
REALM = 'Bearer realm="store-monitor"'


def install_token_check(app: Flask, token: str) -> None:
    """Require ``token`` on every request but the public ones; an empty token leaves the API open.

    The token itself is never logged nor echoed.
    """
    if not token:
        app.logger.warning("API_TOKEN is not set: the API is open to anyone who can reach it")
        return
    app.logger.info("API_TOKEN is set: every request but /health needs Authorization: Bearer <API_TOKEN>")
    expected = _digest(token)

    def require_token() -> tuple[Response, int] | None:
        if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
            return None
        presented = bearer_token(request.headers.get("Authorization", ""))
        if presented is None:
            return _unauthorized("authentication required: send the header Authorization: Bearer <API_TOKEN>")
        # Digests of equal length, compared in constant time: neither the
        # token's characters nor its length leak through the timing.
        if not hmac.compare_digest(_digest(presented), expected):
            return _unauthorized("the bearer token is not valid", 'error="invalid_token"')
        return None

    app.before_request(require_token)


def bearer_token(header: str) -> str | None:
    """The credentials of an ``Authorization: Bearer <token>`` header (scheme in any case), else None."""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def _digest(token: str) -> bytes:
    # A header arrives as latin-1 text; UTF-8 encodes any str, so nothing raises here.
    return hashlib.sha256(token.encode("utf-8")).digest()


def _unauthorized(message: str, *details: str) -> tuple[Response, int]:
    response = jsonify(error=message)
    response.headers["WWW-Authenticate"] = ", ".join((REALM, *details))
    return response, 401


def json_error(error: Exception) -> tuple[Response, int]:
    """Any error as ``{"error": "..."}`` with its status."""
    if isinstance(error, HTTPException):
        return _http_error(error)
    if isinstance(error, UptimeError):
        status = next((code for kind, code in DOMAIN_ERROR_STATUS if isinstance(error, kind)), 500)
        if status >= 500:
            current_app.logger.warning("%s: %s", type(error).__name__, error)
        return jsonify(error=str(error)), status
    # A bug: logged with its traceback, and its details kept from the client.
    current_app.logger.exception("unexpected error")
    return jsonify(error="internal server error"), 500


def _http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    response = jsonify(error=error.description or error.name)
    # Keep the headers that carry meaning (Allow on a 405), not werkzeug's HTML Content-Type.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status
