"""The words of the domain, each kind once, as string enums.

A member equals, hashes and serialises as its text ("file" == Outcome.FILE, json.dumps gives
"file"), so the JSON the CLI, the API and the decision log write is the words it always was.

Step actions are not here: the language takes any word as an action (报送, 备案, 审核 …),
and the decision repeats the drafter's word.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    PROHIBIT = "prohibit"
    APPROVE = "approve"
    FILE = "file"
    # The verdicts decide gives and a rule never writes:
    NONE = "none"  # covered, in force, every needed fact known, and no rule with an outcome applies
    NOT_COVERED = "not_covered"  # no policy covers the region, or none is in force on the date
    UNDETERMINED = "undetermined"  # no rule decided, and missing facts or open parameters would


# The outcomes only `decide` gives; every other outcome is written in a rule file.
VERDICTS = frozenset({Outcome.NONE, Outcome.NOT_COVERED, Outcome.UNDETERMINED})


class Strength(StrEnum):
    """How firmly a rule's text says its outcome (reading principles: strength of wording)."""

    MANDATORY = "mandatory"  # 不得 / 严禁 / 必须 …: a hard outcome; no keyword in a rule file
    PRESUMPTIVE = "presumptive"  # 原则上 / 一般: the default answer, open to exception
    BY_LAW = "by_law"  # 依法 / 按规定: the outcome rests on other law
    DISCRETIONARY = "discretionary"  # 可 / 鼓励 / 支持 / 优先: never a prohibition or a step


# What each strength is called in a rule file (`则 原则上 禁止`); mandatory is the default and
# has no word. The grammar's `strength` rule lists the same words (tests/test_vocabulary.py).
STRENGTH_KEYWORDS: dict[Strength, dict[str, str]] = {
    Strength.PRESUMPTIVE: {"en": "presumptive", "zh": "原则上"},
    Strength.BY_LAW: {"en": "by_law", "zh": "依法"},
    Strength.DISCRETIONARY: {"en": "discretionary", "zh": "可"},
}
_STRENGTH_BY_KEYWORD = {
    kw: s for s, spellings in STRENGTH_KEYWORDS.items() for kw in spellings.values()
}


def strength_of_keyword(keyword: str) -> Strength:
    """The strength a rule file's keyword (English or Chinese) names; KeyError if none."""
    return _STRENGTH_BY_KEYWORD[keyword]


# What each outcome is called in a rule file, in both keyword languages. The parser reads
# these and the formatter writes them, so the two cannot disagree; the grammar's `outcome`
# rule lists the same words (tests/test_vocabulary.py holds them together).
OUTCOME_KEYWORDS: dict[Outcome, dict[str, str]] = {
    Outcome.PROHIBIT: {"en": "prohibit", "zh": "禁止"},
    Outcome.APPROVE: {"en": "approve", "zh": "审批"},
    Outcome.FILE: {"en": "file", "zh": "备案"},
}


_BY_KEYWORD = {kw: o for o, spellings in OUTCOME_KEYWORDS.items() for kw in spellings.values()}


def outcome_of_keyword(keyword: str) -> Outcome:
    """The outcome a rule file's keyword (English or Chinese) names; KeyError if none."""
    return _BY_KEYWORD[keyword]


class Role(StrEnum):
    """A unit's part in a routing rule; also the names of the route answer's unit fields."""

    LEAD = "lead"  # 牵头单位
    RESPONSIBLE = "responsible"  # 责任单位
    ASSISTING = "assisting"  # 配合 / 协助 / 协办单位


class Severity(StrEnum):
    ERROR = "error"  # the policy set is refused
    WARNING = "warning"  # reported; the policy set still loads


class Coverage(StrEnum):
    """How a source clause is handled by the policy that encodes its document."""

    ENCODED = "encoded"  # a rule, route or parameter cites it
    SKIPPED = "skipped"  # deliberately left out, with a reason
    BY_PARTS = "by_parts"  # not cited itself, but every sub-clause is handled
    OPEN = "open"  # none of these yet


class Code(StrEnum):
    """Every diagnostic code: of the parser, the loader, the checker, and the fact schema's
    validation of a project. They are public (tests, the CLI and the HTTP error body use
    them) and each is documented in README's "Diagnostic codes" table."""

    # reading and parsing a file
    UNREADABLE_FILE = "unreadable_file"
    PARSE_ERROR = "parse_error"
    TOO_DEEP = "too_deep"
    DUPLICATE_HEADER = "duplicate_header"
    # the schema and the policy set
    MISSING_SCHEMA = "missing_schema"
    MISPLACED_SCHEMA = "misplaced_schema"
    DUPLICATE_NAME = "duplicate_name"
    BAD_CLASSIFICATION = "bad_classification"  # policies/data/industries.yaml
    # a policy's header
    MISSING_HEADER = "missing_header"
    UNKNOWN_DOCUMENT = "unknown_document"
    BAD_DATE = "bad_date"  # also a project's date field
    # citations and skips
    CITE_CLAUSE_UNKNOWN = "cite_clause_unknown"
    CITE_QUOTE_EMPTY = "cite_quote_empty"
    CITE_QUOTE_NOT_FOUND = "cite_quote_not_found"
    SKIP_WITHOUT_REASON = "skip_without_reason"
    SKIP_OF_CITED_CLAUSE = "skip_of_cited_clause"
    UNREVIEWED_DRAFT = "unreviewed_draft"  # `待审`: drafted by `zhengce draft`, not yet reviewed
    # names, types and units in rules
    UNKNOWN_FIELD = "unknown_field"  # also a project's field
    UNKNOWN_ENUM_VALUE = "unknown_enum_value"  # also a project's value
    UNKNOWN_PARAM = "unknown_param"
    UNKNOWN_UNIT = "unknown_unit"
    UNKNOWN_INDUSTRY_CODE = "unknown_industry_code"
    TYPE_MISMATCH = "type_mismatch"
    UNIT_MISMATCH = "unit_mismatch"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"
    CONDITION_TOO_COMPLEX = "condition_too_complex"
    BOUND_WORDING_MISMATCH = "bound_wording_mismatch"
    NO_STEPS = "no_steps"
    # strength, exceptions and priority
    MODALITY_PRESUMPTIVE_WORDING = "modality_presumptive_wording"
    MODALITY_MANDATORY_WORDING = "modality_mandatory_wording"
    DISCRETIONARY_REQUIREMENT = "discretionary_requirement"
    UNKNOWN_PRIORITY_TARGET = "unknown_priority_target"
    UNRESOLVED_CONFLICT = "unresolved_conflict"  # dsl.analyze, on the whole set
    # routes and regions against the source
    ROUTE_WITHOUT_UNITS = "route_without_units"
    UNIT_NOT_IN_CLAUSE = "unit_not_in_clause"
    REGION_MISMATCH = "region_mismatch"
    # a project's facts
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    OUT_OF_RANGE = "out_of_range"
    BAD_REGION = "bad_region"

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self in _WARNINGS else Severity.ERROR


# The problems a drafter should look at but that leave the policy set usable.
_WARNINGS = frozenset(
    {
        Code.BOUND_WORDING_MISMATCH,
        Code.NO_STEPS,
        Code.SKIP_OF_CITED_CLAUSE,
        Code.UNREVIEWED_DRAFT,
        Code.MODALITY_PRESUMPTIVE_WORDING,
        Code.MODALITY_MANDATORY_WORDING,
    }
)
