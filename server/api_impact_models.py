"""The impact report's JSON shape (`zhengce impact --json` and
`POST /v1/admin/reload?dry_run=true`), documented in OpenAPI."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from server.api_models import Out


class Edit(Out):
    kind: Literal["added", "removed", "changed", "other"]
    target: Literal["rule", "route", "policy", "other"] = Field(
        description="What was edited: a rule, a routing rule, a policy's header (region, "
        "period, source), or `other` for changes no edit explains (the schema, the industry "
        "classification)."
    )
    key: str = Field(description="policy/rule, policy/route or the policy id; '' for other.")
    policy: str
    title: str
    aspects: list[str] = Field(
        description="For `changed`: what differs, e.g. condition, outcome, strength, steps, "
        "obligations, citations, priority, parameters; for a policy region, period, source."
    )


class FieldChange(Out):
    field: Literal["outcome", "strength", "steps", "obligations", "citations", "input"] = Field(
        description="`input`: one set refuses the project (its error codes; [] for the other)."
    )
    before: list[str]
    after: list[str]


class ChangedProject(Out):
    origin: str = Field(
        description="log, test, case, example, boundary or generated: where it comes from."
    )
    label: str = Field(
        description="The decision id, the file and case, or the threshold it sits at."
    )
    project: dict[str, Any]
    date: str | None
    changes: list[FieldChange]
    rules: list[str] = Field(
        description="The rules that fired, were undetermined or overridden in either decision."
    )


class Group(Out):
    edit: Edit
    count: int = Field(description="Projects whose decision changed with this edit taking part.")
    fields: dict[str, int] = Field(description="How many of them change each field.")
    origins: dict[str, int]
    examples: list[ChangedProject] = Field(description="The first few, in project order.")


class Base(Out):
    label: str = Field(description="The git revision and its commit, or served.")
    revision: str = Field(description="The base policy set's revision.")


class ImpactReport(Out):
    base: Base
    revision: str = Field(description="The revision of the policy folder on disk.")
    projects: int = Field(description="Distinct projects replayed (facts and date).")
    origins: dict[str, int] = Field(description="Projects per origin.")
    decided: int = Field(description="Projects decided (a project one set refuses included).")
    invalid: int = Field(description="Projects neither set's schema takes.")
    changed: int = Field(description="Projects whose decision changed, each counted once.")
    edits: list[Edit] = Field(
        description="Every edit from the base, whether or not it changes a decision."
    )
    groups: list[Group] = Field(
        description="Changed decisions by the edit behind them, most first."
    )
    replay: str = Field(
        description="Where the projects were decided: in-process or a Dask address."
    )
