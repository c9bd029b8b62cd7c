"""The JSON API's plumbing: routes that describe themselves, and the OpenAPI document built from those descriptions.

An API view is declared with `api_route(bp, rule, methods, summary=…, request=…, responses=…)`; the same call
registers the Flask route and its OpenAPI operation, so the document can never drift from the code.
"""

import functools
import re
from dataclasses import dataclass, field

import jsonschema
from flask import Blueprint, abort, request
from flask_babel import gettext as _

from core.errors import DomainError
from core.models import MAX_INT

API_PREFIX = "/api/v1"


@dataclass
class Operation:
    rule: str  # Flask rule under the API prefix, e.g. "/attempts/<int:attempt_id>"
    method: str
    endpoint: str
    summary: str
    request: dict | None = None
    responses: dict = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    request_required: bool = True
    parameters: tuple[dict, ...] = ()  # besides the path's: headers, e.g.
    description: str = ""  # the operation's rules, where its summary cannot say them
    scope: str = ""  # the admin API's: the scope a system token needs (core.policy.API_SCOPES)


_OPERATIONS: list[Operation] = []

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "retry_after": {"type": "integer", "description": "503: seconds to wait"},
            },
        }
    },
}


def closed_object(properties: dict, optional=()) -> dict:
    """An object schema with exactly these properties, each required unless named in `optional`: a field a view adds
    (a key, an explanation too early) breaks the document, and the API's tests see it."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


#: The largest id or position a path may name: the database's integer columns hold no more.
MAX_PATH_INT = MAX_INT

#: What each error status means, for every operation that may answer it (the body is always ERROR_SCHEMA).
ERROR_DESCRIPTIONS = {
    400: "Bad request: the body or a parameter does not fit, or a call with the session cookie lacks X-CSRFToken",
    401: "Not logged in: no valid token or session",
    403: "Refused: not allowed (or the password must be changed first)",
    404: "Not found, or not this user's",
    409: "Not possible in the attempt's or exam's present state",
    413: "The request body is too large",
    429: "Too many tries: wait before trying again",
    503: "The database is briefly unavailable: nothing was written; send the request again after Retry-After",
}
#: Answered by every operation: a malformed request, no login, a refusal, the database down.
COMMON_ERRORS = (400, 401, 403, 503)


def api_route(
    bp: Blueprint, rule: str, methods: list[str], *, summary: str, request=None, responses=None, errors=(),
    request_required=True, parameters=(), description="", scope="",
):  # fmt: skip
    """Register a view on `bp` and describe it for the OpenAPI document. `responses` maps status -> schema;
    `errors` names the error statuses the view answers besides the common ones (COMMON_ERRORS, 404 where the path
    names something, 413 where a body is read), each with an ERROR_SCHEMA body; `parameters` adds OpenAPI
    parameter objects (headers) to those of the path; `description` says the rules a summary cannot; `scope` marks
    an admin API operation, reached with a system token carrying that scope (the view checks it: scope_required).

    An integer in the path beyond MAX_PATH_INT names nothing: 404, as for a path that is no integer at all, rather
    than a driver's overflow error."""

    def decorator(view):
        @functools.wraps(view)
        def bounded(**kwargs):
            if any(isinstance(v, int) and v > MAX_PATH_INT for v in kwargs.values()):
                abort(404)
            return view(**kwargs)

        bp.add_url_rule(rule, view_func=bounded, methods=methods)
        for method in methods:
            _OPERATIONS.append(
                Operation(rule, method.lower(), f"{bp.name}.{view.__name__}", summary, request, responses or {},
                          tuple(errors), request_required, tuple(parameters), description, scope)
            )  # fmt: skip
        return bounded

    return decorator


def _openapi_path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def repl(match):
        converter, name = match.group(1), match.group(2)
        schema = (
            {"type": "integer", "minimum": 1, "maximum": MAX_PATH_INT} if converter == "int" else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return API_PREFIX + re.sub(r"<(?:(\w+):)?(\w+)>", repl, rule), params


def _error_response(status: int) -> dict:
    response = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status == 503:
        response["headers"] = {"Retry-After": {"required": True, "schema": {"type": "integer"},
                                               "description": "seconds to wait"}}  # fmt: skip
    return response


def openapi_document(title: str, version: str) -> dict:
    paths: dict = {}
    for op in _OPERATIONS:
        path, params = _openapi_path(op.rule)
        responses = {
            str(status): {"description": schema.get("description", "OK") if isinstance(schema, dict) else "OK",
                          "content": {"application/json": {"schema": schema}}}
            for status, schema in op.responses.items()
        }  # fmt: skip
        statuses = set(COMMON_ERRORS) | set(op.errors)
        if params:
            statuses.add(404)
        if op.request:
            statuses.add(413)
        for status in sorted(statuses):
            responses.setdefault(str(status), _error_response(status))
        operation = {"operationId": op.endpoint.replace(".", "_"), "summary": op.summary, "responses": responses}
        if op.scope:
            note = f"Needs a system token with the scope `{op.scope}`."
            operation["description"] = f"{note} {op.description}".strip()
            operation["security"] = [{"bearer": []}]
            operation["tags"] = ["admin"]
        elif op.description:
            operation["description"] = op.description
        if params or op.parameters:
            operation["parameters"] = params + list(op.parameters)
        if op.request:
            operation["requestBody"] = {
                "required": op.request_required,
                "content": {"application/json": {"schema": op.request}},
            }
        paths.setdefault(path, {})[op.method] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "qe_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


def operations() -> list[Operation]:
    return list(_OPERATIONS)


def json_body(schema: dict) -> dict:
    """The request's JSON object, checked against `schema` (the one the document shows): a body that does not
    fit is refused (400 bad_request) with the first field at fault and why, before anything is read from it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DomainError(_("The request body must be a JSON object."), code="bad_request")
    error = jsonschema.exceptions.best_match(jsonschema.Draft4Validator(schema).iter_errors(body))
    if error is not None:
        field = "/".join(str(part) for part in error.absolute_path) or _("the body")
        raise DomainError(_("%(field)s: %(reason)s", field=field, reason=error.message), code="bad_request",
                          problems=((field, error.message),))  # fmt: skip
    return body
