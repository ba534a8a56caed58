"""The HTTP API's request and response bodies, as pydantic models: they validate requests and
document every shape in OpenAPI. A project itself is validated by the fact schema (the same
code the CLI uses), and its JSON Schema in OpenAPI is generated from policies/schema.zc."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from dsl.dates import parse_date
from dsl.vocabulary import Outcome, Strength
from server.wellformed import invalid_text_at, message


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

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        """Refuse a key or string anywhere in the body that is not valid Unicode (a lone
        surrogate): it could be neither logged nor echoed in an error. The items of a
        `list[Any]` field (a batch's projects) are each checked when decided
        (Runtime.decide), so that one bad project fails alone."""
        if isinstance(data, dict):
            alone = {name for name, f in cls.model_fields.items() if f.annotation == list[Any]}
            where = invalid_text_at({k: None if k in alone else v for k, v in data.items()})
            if where is not None:
                raise PydanticCustomError(
                    "wrong_type", "{message}", {"message": message(where), "location": where}
                )
        return data


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
    engine: Literal["compiled", "rete", "interpret"] = Field(
        "compiled",
        description="The evaluator: the compiled one (the fastest), the Rete engine "
        "(durable-rules) or the reference interpreter. They give the same decision.",
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
    engine: Literal["compiled", "rete", "interpret"] = "compiled"


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


class Out(BaseModel):
    # A field the service gives that a response model lacks is an error, not silently
    # dropped: the views' tests then fail when the language adds to a decision.
    model_config = ConfigDict(extra="forbid")


class ErrorItem(Out):
    code: str
    message: str = Field(description="In Chinese: the location and what is wrong there.")
    message_en: str = Field(description="The same in English, with the specifics.")
    location: str = Field(description="The field, parameter or file:line:col at fault.")


class ErrorBody(Out):
    """Every 4xx and 5xx answer has this shape."""

    code: str = Field(description="Stable, for programs.")
    message: str = Field(description="In Chinese, for people.")
    message_en: str = Field(description="The same in English, with the specifics.")
    errors: list[ErrorItem]


class Step(Out):
    authority: str
    action: str


class Basis(Out):
    rule: str = Field(description="A fired rule that puts this step on the path.")
    document: str
    clause: str = Field(description="A clause that rule cites; its text is in `citations`.")


class PathStep(Out):
    authority: str = Field(description="The authority as the text names it.")
    authority_id: str = Field(
        description="Stable for the same authority text in any decision and revision: match "
        "on this, show `authority`."
    )
    action: str
    action_id: str = Field(description="Stable for the same action text, like authority_id.")
    basis: list[Basis] = Field(description="The rules and clauses behind this step.")


class Citation(Out):
    policy: str
    document: str
    doc_number: str
    clause: str
    quote: str
    text: str = Field(description="The full clause, verbatim from the source document.")
    quote_at: list[int] | None = Field(
        description="[start, end) of the quote in `text`, counted in Unicode code points (as "
        "Python and JavaScript's Array.from count, not UTF-16 units), or null when it cannot "
        "be placed."
    )
    backs: list[str] = Field(
        default_factory=list,
        description="The rules (`policy/rule`) and parameters (`policy/name`) of this answer "
        "that cite it.",
    )
    provenance: Literal["official", "news_report", "unofficial_copy", "reprint", ""] = Field(
        description="What the cited document is: the official text, a news report, an "
        'unofficial copy or a reprint ("" when its metadata does not say).'
    )


class FiredRule(Out):
    id: str
    policy: str
    title: str
    outcome: Outcome | None
    steps: list[Step]


class WhyNot(Out):
    rule: str
    title: str
    condition: str = Field(description="The failing test as the rule file writes it.")
    field: str
    actual: bool | float | str | None
    op: str = Field(description="ge, gt, le, lt, eq, ne, in, not_in, within, contains, …")
    expected: str = Field(
        description="What the rule needs, as a machine value: a bound in the field's unit "
        '("1000"), enum names joined by commas ("park_plan"), true or false; "" for a bound '
        "the text leaves open. The Chinese is in `text`."
    )
    text: str = Field(description="The failing condition in plain Chinese.")


FactValueT = bool | float | str | None


class FactUsed(Out):
    name: str
    value: FactValueT
    source: Literal["given", "default"] = Field(
        description="`default`: the fact schema supplied the value; the project did not give it."
    )


class ConditionTrace(Out):
    field: str
    op: str
    expected: str
    actual: str
    holds: bool | None = Field(description="null: unknown (a fact is missing).")
    text: str = Field(description="e.g. 投资额 1500万元 ≥ 1000万元（以上，含本数）")


class RuleTrace(Out):
    rule: str
    title: str
    conditions: list[ConditionTrace]


class FactChange(Out):
    field: str
    value: FactValueT
    text: str


class Counterfactual(Out):
    changes: list[FactChange] = Field(description="One or two facts changed.")
    outcome: Outcome
    strength: Strength
    steps: list[str]
    rules: list[str] = Field(description="The rules the change brings in.")
    clauses: list[str] = Field(description="The clauses those rules cite, as 'document clause'.")
    text: str = Field(description="e.g. 若投资额 ≥ 1000万元 → 备案（pingliang-2023 二.4）")


class NextQuestion(Out):
    field: str
    label: str
    settles: int = Field(description="How many of the possible outcomes knowing it settles.")


class Undetermined(Out):
    rule: str
    title: str
    outcome: Outcome | None
    steps: list[Step]
    missing_facts: list[str]
    unspecified_parameters: list[str]


class Parameter(Out):
    policy: str
    name: str
    value: str
    unspecified: bool
    notes: list[str]


class ClauseRef(Out):
    document: str
    clause: str


class Related(Out):
    near: ClauseRef = Field(description="The cited clause this one is close to.")
    document: str
    clause: str
    text: str
    score: float


class Overridden(Out):
    rule: str = Field(description="A rule that fired but did not decide.")
    by: str = Field(description="The rule that prevailed over it.")
    reason: str = Field(description="Why, in Chinese (a mandatory prohibition, a declared 例外 …).")


class Decision(Out):
    decision_id: str | None = Field(
        description="Look it up again at /v1/decisions/{decision_id}; null where the decision "
        "is not logged (`zhengce eval --json`)."
    )
    page_url: str | None = Field(
        description="The decision on the reviewer's page, relative to the server; null where "
        "the decision is not logged."
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
    strength: Strength = Field(
        description="How firm the outcome is: `mandatory`; `presumptive` (原则上 / 一般: the "
        "default answer, open to exception); `by_law` (依法: it rests on other law); "
        "`discretionary` (可 / 鼓励: never a prohibition or a required step)."
    )
    decided_by: str | None = Field(description="The rule that decided the outcome.")
    overridden: list[Overridden] = Field(
        description="Rules that fired but did not decide: which rule prevailed over each, and why."
    )
    reason: str = Field(
        description="Why this outcome, in Chinese; for `not_covered`, `undetermined` and `none` "
        "it says which (e.g. 本系统未覆盖该地区)."
    )
    missing_facts: list[str] = Field(
        description="For `undetermined`: the facts that, once given, would decide it."
    )
    exception_routes: list[str] = Field(
        description="For a presumptive outcome: who may grant an exception, as the text says."
    )
    qualifiers: list[str] = Field(
        description="The text's words that qualify the outcome (原则上, 一般 …)."
    )
    facts: list[FactUsed] = Field(description="Every fact used, given or from a default.")
    trace: list[RuleTrace] = Field(
        description="With `explain`: each fired rule's conditions, with the actual values."
    )
    counterfactuals: list[Counterfactual] = Field(
        description="With `explain`: the smallest changes of one or two facts that change the "
        "outcome or the path, each verified by deciding the changed project."
    )
    counterfactuals_complete: bool = Field(
        description="False when the search for counterfactuals ran out of its budget."
    )
    next_questions: list[NextQuestion] = Field(
        description="For `undetermined`: the missing facts, the one that settles most first."
    )


class BatchItem(Out):
    index: int
    decision: Decision | None = None
    error: ErrorBody | None = None


class BatchResponse(Out):
    count: int
    failed: int
    results: list[BatchItem] = Field(description="One entry per project, in order.")


class Candidate(Out):
    rule: str
    title: str
    score: float
    semantic: float | None
    lexical: float
    matched_text: str


class RouteMatch(Out):
    rule: str
    title: str
    matters: list[str]
    lead: list[str]
    lead_original: str
    responsible: list[str]
    responsible_original: str
    assisting: list[str] = Field(description="配合 / 协助 / 协办 units, as the text lists them.")
    assisting_original: str
    notes: list[str]
    citations: list[Citation]
    score: float | None = Field(description="null when the matter named the rule by its id.")
    matched_text: str | None = Field(description="The rule's text closest to the matter.")


class RouteResponse(Out):
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


class SearchHit(Out):
    document: str
    clause: str
    title: str = Field(description="The document's title.")
    text: str
    score: float = Field(
        description="The calibrated probability (0-1) that the clause answers the question."
    )
    relevance: Literal["high", "medium", "low"] | None = Field(
        description="The score's level (cut-offs in README); null below `low`: a nearest "
        "clause, not an answer."
    )
    highlights: list[list[int]]
    sentence: list[int] | None = Field(
        description="[start, end) of the sentence of `text` that answered best, when one "
        "sentence matched better than the whole clause."
    )


class SearchResponse(Out):
    query: str
    hits: list[SearchHit]
    found: bool = Field(
        description="false when no hit reaches `low` relevance: no clause answers the "
        "question, and `hits` are only the nearest clauses."
    )
    dense_available: bool
    degraded_reason: str | None


class LoggedDecision(Out):
    decision_id: str
    created_at: dt.datetime
    revision: str
    input: dict[str, Any]
    result: Decision


class Health(Out):
    status: Literal["ok"]


class WorkerRevision(Out):
    pid: int
    revision: str | None
    problem: str | None


class Ready(Out):
    status: Literal["ready", "warming", "degraded"]
    revision: str
    policies: list[str]
    search: dict[str, Any]
    problem: str | None = Field(description="Why this server serves other than policies/.")
    worker: int = Field(description="The worker process that answered.")
    workers: list[WorkerRevision] = Field(description="Each worker's revision.")
    startup: dict[str, Any] = Field(
        description="This worker's start: seconds from its process's start to ready "
        "(`ready_after`) and each phase's CPU and wall seconds (`phases`)."
    )


class ReloadResponse(Out):
    revision: str
    policies: list[str]
    changed: bool
    warnings: list[ErrorItem]
