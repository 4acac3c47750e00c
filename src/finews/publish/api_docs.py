"""The API's human documentation (``/api/docs``), made from its OpenAPI document.

:func:`docs_values` turns :func:`~finews.publish.openapi.openapi_document` into plain rows
(operations with their parameters and responses, schemas with their properties, every type
spelled out as text) that ``templates/api_docs.html`` places. Nothing is written twice: a
route, parameter or field added to the OpenAPI document appears on the page. The page uses
the site's own stylesheet and no script or third-party asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Field", "Operation", "Schema", "docs_values", "type_text"]

_REF = "#/components/schemas/"


@dataclass(frozen=True, slots=True)
class Field:
    """A parameter or a property: its name, where it goes, its type as text and notes."""

    name: str
    place: str
    required: bool
    type: str
    #: the schema a ``$ref`` names (the page links to it), else ``""``
    ref: str
    description: str


@dataclass(frozen=True, slots=True)
class Operation:
    """One method of one path."""

    method: str
    path: str
    anchor: str
    summary: str
    parameters: tuple[Field, ...]
    #: (status, description, schema name or "")
    responses: tuple[tuple[str, str, str], ...]
    #: a request to try in the browser (a path with example values), or ``""``
    example: str


@dataclass(frozen=True, slots=True)
class Schema:
    """One schema of ``components``: its properties (nested objects flattened, ``a.b``)."""

    name: str
    fields: tuple[Field, ...]


def _ref_name(schema: Mapping[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.removeprefix(_REF) if isinstance(ref, str) and ref.startswith(_REF) else ""


def type_text(schema: Mapping[str, Any]) -> str:
    """A schema's type in words: ``integer, 1–200, default 50``, ``string or null``,
    ``array of Item``, ``string: newest | relevance``."""
    name = _ref_name(schema)
    if name:
        return name
    kind = schema.get("type", "any")
    words = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        words = f"array of {type_text(schema['items'])}"
    if "format" in schema:
        words += f" ({schema['format']})"
    notes = []
    if "enum" in schema:
        notes.append(" | ".join(str(value) for value in schema["enum"]))
    if "minimum" in schema and "maximum" in schema:
        notes.append(f"{schema['minimum']}–{schema['maximum']}")
    elif "minimum" in schema:
        notes.append(f"≥ {schema['minimum']}")
    if "default" in schema:
        notes.append(f"default {schema['default']}")
    return words + (": " + ", ".join(notes) if notes else "")


def _examples(schema: Mapping[str, Any]) -> str:
    examples = schema.get("examples") or []
    return "e.g. " + ", ".join(str(value) for value in examples) if examples else ""


def _parameter(parameter: Mapping[str, Any]) -> Field:
    schema = parameter.get("schema", {})
    notes = " ".join(part for part in (parameter.get("description", ""), _examples(schema)) if part)
    return Field(
        name=parameter["name"],
        place=parameter.get("in", "query"),
        required=bool(parameter.get("required")),
        type=type_text(schema),
        ref=_ref_name(schema),
        description=notes,
    )


def _properties(schema: Mapping[str, Any], prefix: str = "") -> list[Field]:
    required = set(schema.get("required", []))
    fields = []
    for name, value in schema.get("properties", {}).items():
        item_ref = _ref_name(value.get("items", {})) if value.get("type") == "array" else ""
        fields.append(
            Field(
                name=prefix + name,
                place="",
                required=name in required,
                type=type_text(value),
                ref=_ref_name(value) or item_ref,
                description=" ".join(
                    part for part in (value.get("description", ""), _examples(value)) if part
                ),
            )
        )
        if value.get("type") == "object" and "properties" in value:
            fields.extend(_properties(value, f"{prefix}{name}."))
    return fields


def _example(path: str, parameters: list[Mapping[str, Any]]) -> str:
    """A request worth trying: the path with every required parameter's first example."""
    if "{" in path:
        return path.replace("{id}", "1") if path.count("{") == 1 else ""
    query = []
    for parameter in parameters:
        if parameter.get("required"):
            examples = parameter.get("schema", {}).get("examples") or []
            if not examples:
                return ""
            query.append(f"{parameter['name']}={examples[0]}")
    return path + ("?" + "&".join(query) if query else "")


def docs_values(document: Mapping[str, Any]) -> dict[str, Any]:
    """What the docs page shows of an OpenAPI 3.1 document."""
    operations = []
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            responses = tuple(
                (
                    str(status),
                    response.get("description", ""),
                    _ref_name(
                        response.get("content", {}).get("application/json", {}).get("schema", {})
                    ),
                )
                for status, response in operation.get("responses", {}).items()
            )
            operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    anchor=operation.get("operationId", path.strip("/").replace("/", "-")),
                    summary=operation.get("summary", ""),
                    parameters=tuple(_parameter(p) for p in parameters),
                    responses=responses,
                    example=_example(path, parameters) if method == "get" else "",
                )
            )
    schemas = [
        Schema(name, tuple(_properties(schema)))
        for name, schema in document.get("components", {}).get("schemas", {}).items()
    ]
    info = document.get("info", {})
    return {
        "title": info.get("title", "API"),
        "version": info.get("version", ""),
        "description": info.get("description", ""),
        "operations": operations,
        "schemas": schemas,
    }
