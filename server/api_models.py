"""The HTTP API's request and response bodies, as pydantic models: they validate requests and
document every shape in OpenAPI. A project itself is validated by the fact schema (the same
code the CLI uses), and its JSON Schema in OpenAPI is generated from policies/schema.zc."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dsl.dates import parse_date
from dsl.schema import MAX_NUMBER, Schema
from dsl.vocabulary import Coverage as CoverageStatus
from dsl.vocabulary import Outcome


def _real_date(value: str) -> str:
    parse_date(value)  # BadDate, a ValueError, says what is wrong
    return value


# A string, not pydantic's date: that would also take a number of seconds since 1970.
IsoDate = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"}),
    AfterValidator(_real_date),
]
MAX_BATCH = 10_000

EXAMPLE_PROJECT: dict[str, Any] = {
    "region": "甘肃省/平凉市/崆峒区",
    "park": "平凉工业园区",
    "park_level": "provincial",
    "land_use": "none",
    "category": "industrial",
    "investment_wan": 1200,
    "industry": "装备制造",
}


class Request(BaseModel):
    # Strict: `"explain": 0` or `"k": "5"` is refused as the wrong type, as documented,
    # rather than quietly converted. Subclasses' configs merge into this one.
    model_config = ConfigDict(extra="forbid", strict=True)


class EvaluateRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"project": EXAMPLE_PROJECT, "date": "2024-03-01", "explain": True}]
        },
    )

    project: dict[str, Any] = Field(description="The project's facts (fact contract v1).")
    date: IsoDate | None = Field(
        None, description="Evaluation date; default: the project's `date`, else today."
    )
    explain: bool = Field(
        False, description="Add `why_not` for every rule that did not fire, and `related`."
    )
    engine: Literal["rete", "interpret"] = Field(
        "rete", description="The Rete engine, or the reference interpreter (they agree)."
    )


class BatchRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "projects": [EXAMPLE_PROJECT, {**EXAMPLE_PROJECT, "land_use": "new_land"}],
                    "date": "2024-03-01",
                }
            ]
        },
    )

    # Items are checked one by one, so that one bad project answers an error entry of its
    # own instead of failing the whole batch.
    projects: list[Any] = Field(min_length=1, max_length=MAX_BATCH)
    date: IsoDate | None = None
    explain: bool = False
    engine: Literal["rete", "interpret"] = "rete"


class RouteRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"matter": "化工园区清理整顿由谁牵头", "region": "江西省", "date": "2019-06-01"}
            ]
        },
    )

    matter: str = Field(min_length=1, max_length=2000, description="The matter in plain words.")
    region: str = Field(min_length=1, max_length=200, description="e.g. 江西省, 甘肃省/平凉市")
    date: IsoDate | None = Field(None, description="Default: today.")
    k: int = Field(5, ge=1, le=20, description="How many candidates to list.")


# ------------------------------------------------------------------------------ responses


class ErrorItem(BaseModel):
    code: str
    message: str
    location: str = Field(description="The field, parameter or file:line:col at fault.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer has this shape."""

    code: str
    message: str
    errors: list[ErrorItem]


class Step(BaseModel):
    authority: str
    action: str


class Basis(BaseModel):
    rule: str = Field(description="A fired rule that puts this step on the path.")
    document: str
    clause: str = Field(description="A clause that rule cites; its text is in `citations`.")


class PathStep(BaseModel):
    authority: str
    action: str
    basis: list[Basis] = Field(description="The rules and clauses behind this step.")


class Citation(BaseModel):
    policy: str
    document: str
    doc_number: str
    clause: str
    quote: str
    text: str = Field(description="The full clause, verbatim from the source document.")
    quote_at: list[int] | None = Field(
        description="[start, end) of the quote in `text`, or null when it cannot be placed."
    )


class FiredRule(BaseModel):
    id: str
    policy: str
    title: str
    outcome: Outcome | None
    steps: list[Step]


class WhyNot(BaseModel):
    rule: str
    title: str
    condition: str
    field: str
    actual: bool | float | str | None


class Undetermined(BaseModel):
    rule: str
    title: str
    outcome: Outcome | None
    steps: list[Step]
    missing_facts: list[str]
    unspecified_parameters: list[str]


class Parameter(BaseModel):
    policy: str
    name: str
    value: str
    unspecified: bool
    notes: list[str]


class ClauseRef(BaseModel):
    document: str
    clause: str


class Related(BaseModel):
    near: ClauseRef = Field(description="The cited clause this one is close to.")
    document: str
    clause: str
    text: str
    score: float


class Decision(BaseModel):
    decision_id: str | None = Field(
        description="Look it up again at /v1/decisions/{decision_id}; null where the decision "
        "is not logged (`zhengce eval --json`)."
    )
    outcome: Outcome
    steps: list[PathStep] = Field(description="The approval path, in order.")
    obligations: list[str]
    benefits: list[str]
    notes: list[str]
    rules: list[FiredRule] = Field(description="The rules that fired.")
    undetermined: list[Undetermined] = Field(
        description="Rules that may apply, depending on missing facts or open parameters."
    )
    why_not: list[WhyNot] = Field(description="With `explain`: each rule that did not fire.")
    citations: list[Citation]
    parameters: list[Parameter]
    policies: list[str] = Field(description="The policies in force for this project and date.")
    revision: str = Field(description="The policy set's revision.")
    date: str
    related: list[Related] = Field(
        description="With `explain`: clauses of other documents close to each cited clause."
    )


class BatchItem(BaseModel):
    index: int
    decision: Decision | None = None
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    count: int
    failed: int
    results: list[BatchItem] = Field(description="One entry per project, in order.")


class Candidate(BaseModel):
    rule: str
    title: str
    score: float
    semantic: float | None
    lexical: float
    matched_text: str


class RouteMatch(BaseModel):
    rule: str
    title: str
    matters: list[str]
    lead: list[str]
    lead_original: str
    responsible: list[str]
    responsible_original: str
    notes: list[str]
    citations: list[Citation]
    score: float | None = Field(description="null when the matter named the rule by its id.")
    matched_text: str | None = Field(description="The rule's text closest to the matter.")


class RouteResponse(BaseModel):
    match: RouteMatch | None = Field(
        description="null when no routing rule matches well enough: no forced guess."
    )
    message: str
    threshold: float | None = Field(
        description="The score a match needs; null when no free text was matched."
    )
    dense_available: bool | None = Field(
        description="Whether semantic matching was on; null when no free text was matched."
    )
    candidates: list[Candidate] = Field(description="The nearest routing rules, best first.")


class SearchHit(BaseModel):
    document: str
    clause: str
    title: str = Field(description="The document's title.")
    text: str
    score: float
    highlights: list[list[int]]


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHit]
    dense_available: bool
    degraded_reason: str | None


class ClauseResponse(BaseModel):
    document: str
    title: str
    doc_number: str
    region: str
    clause: str
    label: str
    text: str = Field(description="The clause's own text.")
    full_text: str = Field(description="With its sub-clauses.")
    parent: str | None
    children: list[str]
    encoded_by: list[str] = Field(description="Rules, routes and parameters citing it.")
    status: CoverageStatus


class Coverage(BaseModel):
    encoded: int
    skipped: int
    by_parts: int
    open: int
    failing: list[str] = Field(description="Open clauses whose text assigns a path or unit.")


class PolicySummary(BaseModel):
    id: str
    title: str
    source: str
    doc_number: str
    issuer: str
    region: str
    issued: str
    effective_from: str
    effective_until: str
    trial: bool
    rules: int
    routes: int
    coverage: Coverage


class PolicyList(BaseModel):
    revision: str
    policies: list[PolicySummary]


class RuleOut(BaseModel):
    id: str
    title: str
    outcome: Outcome | None
    steps: list[Step]
    cites: list[ClauseRef]


class RouteOut(BaseModel):
    id: str
    title: str
    matters: list[str]
    lead: list[str]
    responsible: list[str]
    cites: list[ClauseRef]


class ClauseCoverage(BaseModel):
    clause: str
    status: CoverageStatus
    by: list[str]
    reason: str
    assigns: bool


class DocumentCoverage(Coverage):
    document: str
    policy: str | None = Field(description="The policy encoding the document, if any.")
    clauses: list[ClauseCoverage]


class CoverageReport(BaseModel):
    documents: list[DocumentCoverage] = Field(description="Every source document.")


class PolicyDetail(PolicySummary):
    source_title: str
    parameters: dict[str, str]
    rules_detail: list[RuleOut]
    routes_detail: list[RouteOut]
    clauses: list[ClauseCoverage]


class LoggedDecision(BaseModel):
    decision_id: str
    created_at: dt.datetime
    revision: str
    input: dict[str, Any]
    result: Decision


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready", "warming", "degraded"]
    revision: str
    policies: list[str]
    search: dict[str, Any]


class ReloadResponse(BaseModel):
    revision: str
    policies: list[str]
    changed: bool
    warnings: list[ErrorItem]


# --------------------------------------------------------------------- the fact schema


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
