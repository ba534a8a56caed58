"""The project's JSON Schema for OpenAPI, generated from the fact schema in force."""

from __future__ import annotations

from typing import Any

from dsl.schema import MAX_NUMBER, Schema
from server.api_models import EXAMPLE_PROJECT


def project_json_schema(schema: Schema) -> dict[str, Any]:
    """JSON Schema of a project, from the fact schema: names, labels, types, units, enums
    (name or Chinese label), required fields; unknown fields are refused."""
    properties: dict[str, Any] = {}
    for f in schema.fields:
        kind = f.type.kind
        prop: dict[str, Any]
        if kind == "bool":
            prop = {"type": "boolean"}
        elif kind == "number":
            prop = {"type": "number", "minimum": 0, "exclusiveMaximum": MAX_NUMBER}
        elif kind == "enum":
            names = [v.name for v in f.type.values]
            prop = {"type": "string", "enum": names + [v.label for v in f.type.values]}
        elif kind == "date":
            prop = {"type": "string", "format": "date"}
        elif kind == "region":
            # Levels joined by "/", none of them blank: 甘肃省/平凉市.
            prop = {"type": "string", "pattern": r"^[^/]*[^/\s][^/]*(/[^/]*[^/\s][^/]*)*$"}
        else:
            prop = {"type": "string"}
        if not f.required:
            prop = {"anyOf": [prop, {"type": "null"}]}
        prop["title"] = f.label
        description = [f.label]
        if f.type.unit:
            description.append(f"unit: {f.type.unit}")
        if kind == "enum":
            description.append(
                "; ".join(f"{v.name} = {v.label}" for v in f.type.values)
                + " (the name or the label)"
            )
        if f.default is not None:
            description.append(f"default: {f.default.value}")
        prop["description"] = ". ".join(description)
        properties[f.name] = prop
    return {
        "type": "object",
        "title": "Project",
        "description": "A project's facts, per the fact contract (policies/schema.zc).",
        "properties": properties,
        "required": [f.name for f in schema.fields if f.required],
        "additionalProperties": False,
        "example": EXAMPLE_PROJECT,
    }
