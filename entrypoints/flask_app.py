"""The Flask application: ``flask --app entrypoints.flask_app run``.

``create_app`` wires the container into the views and installs one error
handler, so every error (an unknown route, a wrong method, a domain error,
a bug) reaches the client as ``{"error": "..."}`` JSON, never an HTML page.
Nothing connects here: the database and the broker are first used by a request.
"""

from __future__ import annotations

import os

from dotenv import load_dotenv
from flask import Flask, Response, current_app, jsonify
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from domain.errors import UptimeError
from domain.ports import QueueUnavailable, ReportNotFound, ReportStorageError, RepositoryError
from domain.services import ReportNotReady
from entrypoints import views
from entrypoints.container import Container, build_container

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
        load_dotenv()
        container = build_container(os.environ)
    app = UptimeFlask(__name__)
    app.container = container
    container.wire(modules=[views])
    app.register_blueprint(views.bp)
    app.register_error_handler(Exception, json_error)
    return app


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
