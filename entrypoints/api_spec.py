"""The API's one declaration of its requests and answers, with spectree.

Each view is decorated with ``api.operation(...)``: its query and JSON body
models (``entrypoints.api_requests``), each status it answers with and that
answer's model (``entrypoints.api_models``), its tags; its docstring is its
summary and description. From that one declaration spectree

- validates the request before the view runs (a value that does not fit is
  ``400 {"error": "..."}`` naming the field, as every error of the API is),
- checks every JSON answer against its status's model (a view that drifts
  answers 500, logged, never a shape the document does not give), and
- writes the OpenAPI document (``entrypoints.openapi`` serves it).

What spectree cannot say by itself is added here: the CSV answers and their
headers, request bodies that are optional or not JSON, the 401 of every
operation that needs the bearer token, the schema of a run id.
"""

from __future__ import annotations

import copy
import json
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import flask
from flask import Flask, jsonify, make_response
from pydantic import BaseModel, ValidationError
from spectree import Response, SpecTree, Tag
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.plugins.werkzeug_utils import flask_response_unpack
from werkzeug.exceptions import BadRequest

from entrypoints.api_models import Error
from entrypoints.api_requests import REQUEST_ERROR, JsonBody

JSON = "application/json"
BEARER_SCHEME = "bearerAuth"
# The schema of each path parameter, by name: a run id is a canonical UUID, a store id any text.
PATH_PARAMETERS: Mapping[str, dict[str, str]] = {
    "report_id": {"type": "string", "format": "uuid"},
    "trend_id": {"type": "string", "format": "uuid"},
    "ingest_id": {"type": "string", "format": "uuid"},
    "store_id": {"type": "string"},
}
UNAUTHORIZED = "The Authorization header is missing, not Bearer, or its token is not valid."

TAGS = {
    tag.name: tag
    for tag in (
        Tag(name="reports", description="The week's uptime of every store: trigger a report, poll it, list them."),
        Tag(name="trends", description="Daily uptime over up to 90 days: one store at once, the fleet as a run."),
        Tag(name="stores", description="One store in detail, as the web page shows it."),
        Tag(name="ingestion", description="Data in: upload the CSV files, or push polls."),
        Tag(name="service", description="Health, figures and this document."),
    )
}


class ApiResponse(Response):
    """The statuses an operation answers with: exactly the ones it declares.

    spectree would add its validation error's status to every operation;
    here an operation with inputs declares its own 400.
    """

    def add_model(self, code: int, model: Any, replace: bool = True, description: str | None = None) -> None:
        if replace or self._has_configured_model(code):
            super().add_model(code, model, replace, description)


def json_body(request: flask.Request, model: type[Any]) -> Any:
    """The body as JSON whatever its content type; ``{}`` for none. ``BadRequest`` for a body that is not JSON."""
    body = request.get_data()
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError:
        example = model.EXAMPLE if issubclass(model, JsonBody) else "a JSON object"
        raise BadRequest(f"the body is not JSON: send {example}") from None


class ApiPlugin(FlaskPlugin):
    """spectree's Flask plugin, fitted to this API."""

    def request_validation(self, request: Any, query: Any, json: Any, form: Any, headers: Any, cookies: Any) -> None:
        # A trigger's body is read as JSON whatever its content type (curl -d sends a form's),
        # and a body that is not an object is refused, not taken for {}.
        super().request_validation(request, query, None, form, headers, cookies)  # type: ignore[no-untyped-call]
        if json is not None:
            document = self.model_adapter.validate_obj(json, json_body(request, json))
            request.context = request.context._replace(json=document)

    def validate_response(
        self, resp: Any, resp_model: Response | None, skip_validation: bool, force_resp_serialize: bool
    ) -> tuple[flask.Response, Exception | None]:
        payload, _, _ = flask_response_unpack(resp)
        if isinstance(payload, flask.Response) and payload.mimetype != JSON:
            # A CSV (or a stream of it) goes out as it is: only JSON has a model.
            return make_response(resp), None
        response, error = super().validate_response(resp, resp_model, skip_validation, force_resp_serialize)
        if error is not None:
            # spectree's after-hook logs the mismatch; the client gets the API's error shape, as for any bug.
            response = make_response(jsonify(error="internal server error"), 500)
        return response, error

    def bypass(self, func: Callable[..., Any], method: str) -> bool:
        # HEAD and OPTIONS (spectree's own rule), and the views left out of the document.
        skipped = bool(super().bypass(func, method))  # type: ignore[no-untyped-call]
        return skipped or any(candidate in HIDDEN for candidate in _wrapped(func))

    def parse_path(self, route: Any, path_parameter_descriptions: Mapping[str, str] | None) -> tuple[str, list[Any]]:
        path, parameters = super().parse_path(route, path_parameter_descriptions)
        for parameter in parameters:
            parameter["schema"] = dict(PATH_PARAMETERS.get(parameter["name"], {"type": "string"}))
        return path, parameters


# The views that are no part of the API (the web page).
HIDDEN: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


def _wrapped(func: Any) -> Iterator[Any]:
    while func is not None:
        yield func
        func = getattr(func, "__wrapped__", None)


def refuse_invalid_request(
    _request: Any, _response: Any, error: Exception | None, _instance: Any, _adapter: Any
) -> None:
    """A request that does not fit its models: 400 with the first problem, in the API's error shape."""
    if not isinstance(error, ValidationError):
        return
    first = error.errors(include_url=False)[0]
    if first["type"] == REQUEST_ERROR:
        raise BadRequest(first["msg"])
    where = ".".join(str(part) for part in first["loc"])
    raise BadRequest(f"{where}: {first['msg']}" if where else first["msg"])


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class ApiSpec(SpecTree):
    """A SpecTree that also carries each operation's additions to the document."""

    def __init__(self, **options: Any) -> None:
        super().__init__("flask", backend=ApiPlugin, **options)
        self._additions: dict[str, dict[str, Any]] = {}
        self._routes: dict[tuple[str, str], dict[str, Any]] = {}

    def operation(
        self,
        operation_id: str,
        *,
        tag: str,
        resp: ApiResponse,
        query: type[BaseModel] | None = None,
        json: type[BaseModel] | None = None,
        public: bool = False,
        path_parameters: Mapping[str, str] | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Validate a view's request and JSON answers, and document it.

        ``public``: open without the token. ``document``: what to add to the
        generated operation (other media types, headers, a request body).
        """
        self._additions[operation_id] = dict(document or {})
        return self.validate(
            query=query,
            json=json,
            resp=resp,
            tags=[TAGS[tag]],
            security={} if public else None,
            operation_id=operation_id,
            path_parameter_descriptions=path_parameters,
        )

    def undocumented(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Leave a view out of the document (it is no part of the API)."""
        HIDDEN.add(view)
        return view

    def route(self, path: str, method: str, operation: Mapping[str, Any]) -> None:
        """Describe an operation whose view is not declared here (it lives beside what it serves)."""
        self._routes[(path, method)] = dict(operation)

    def document(self, app: Flask) -> dict[str, Any]:
        """The OpenAPI document of ``app``'s routes, built afresh (callers may change it freely)."""
        with app.app_context():
            spec: dict[str, Any] = copy.deepcopy(self.spec)
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                _merge(operation, self._routes.get((path, method), {}))
                _merge(operation, self._additions.get(operation["operationId"], {}))
                if operation.get("security") != []:
                    operation["responses"].setdefault("401", _error(UNAUTHORIZED))
        return spec


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


api = ApiSpec(
    title="Store monitor",
    version="1.0.0",
    description=(
        "Uptime and downtime of stores during their business hours. A report (or the fleet's daily trend) is "
        "triggered, then polled until it is ready."
    ),
    # No documentation pages: the one document is served at /openapi.json (entrypoints.openapi).
    page_templates={},
    security_schemes=[
        {
            "name": BEARER_SCHEME,
            "data": {
                "type": "http",
                "scheme": "bearer",
                "description": "The server's API_TOKEN, sent as 'Authorization: Bearer <API_TOKEN>'. "
                "A server without API_TOKEN asks for nothing.",
            },
        }
    ],
    security={BEARER_SCHEME: []},
    before=refuse_invalid_request,
    validation_error_status=400,
    validation_error_model=Error,
    # Schemas by their model's name, nested ones shared: one "Span" wherever it appears.
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)
