"""The JSON API's plumbing: routes that describe themselves, and the OpenAPI document built from those descriptions.

An API view is declared with `api_route(bp, rule, methods, summary=…, request=…, responses=…)`; the same call
registers the Flask route and its OpenAPI operation, so the document can never drift from the code.
"""

import re
from dataclasses import dataclass, field

from flask import Blueprint

API_PREFIX = "/api/v1"


@dataclass
class Operation:
    rule: str  # Flask rule under the API prefix, e.g. "/attempts/<int:attempt_id>"
    method: str
    endpoint: str
    summary: str
    request: dict | None = None
    responses: dict = field(default_factory=dict)


_OPERATIONS: list[Operation] = []

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def api_route(bp: Blueprint, rule: str, methods: list[str], *, summary: str, request=None, responses=None):
    """Register a view on `bp` and describe it for the OpenAPI document. `responses` maps status -> schema."""

    def decorator(view):
        bp.add_url_rule(rule, view_func=view, methods=methods)
        for method in methods:
            _OPERATIONS.append(
                Operation(rule, method.lower(), f"{bp.name}.{view.__name__}", summary, request, responses or {})
            )
        return view

    return decorator


def _openapi_path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def repl(match):
        converter, name = match.group(1), match.group(2)
        params.append(
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer" if converter == "int" else "string"}}
        )  # fmt: skip
        return "{" + name + "}"

    return API_PREFIX + re.sub(r"<(?:(\w+):)?(\w+)>", repl, rule), params


def openapi_document(title: str, version: str) -> dict:
    paths: dict = {}
    for op in _OPERATIONS:
        path, params = _openapi_path(op.rule)
        responses = {
            str(status): {"description": schema.get("description", "OK") if isinstance(schema, dict) else "OK",
                          "content": {"application/json": {"schema": schema}}}
            for status, schema in op.responses.items()
        }  # fmt: skip
        error = {"schema": {"$ref": "#/components/schemas/Error"}}
        responses.setdefault("default", {"description": "An error", "content": {"application/json": error}})
        operation = {"operationId": op.endpoint.replace(".", "_"), "summary": op.summary, "responses": responses}
        if params:
            operation["parameters"] = params
        if op.request:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.request}}}
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
