"""OpenAPI pieces the generated schema cannot infer by itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from shared.errors import ErrorBody

# The operations that take a request body.
BODY_METHODS = ("post", "put", "patch")


def raw_json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body raw (a signature covers its exact
    bytes, so FastAPI must not parse it first): the body's format, for the docs, generated
    clients and fuzzers, with the model's nested definitions inlined."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, definitions)}},
        }
    }


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


def document_for_bodies(app: FastAPI, *, status: int, description: str) -> None:
    """Add an error response (the error body, `status`, `description`) to every operation that
    takes a body, once, when the app's schema is first built: for what the whole app answers
    outside its routes (a middleware), so no route has to list it."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for methods in schema.get("paths", {}).values():
                for method, operation in methods.items():
                    if method in BODY_METHODS:
                        operation.setdefault("responses", {})[str(status)] = _error_response(description)
            _ensure_error_body_schema(schema)
            return schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def _ensure_error_body_schema(schema: dict[str, Any]) -> None:
    """The ErrorBody component (and the ones it refers to), if no route's responses brought it."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" in components:
        return
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in body.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["ErrorBody"] = body
