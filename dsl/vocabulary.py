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
    NONE = "none"  # no rule with an outcome applies; a rule never writes it


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
    # names, types and units in rules
    UNKNOWN_FIELD = "unknown_field"  # also a project's field
    UNKNOWN_ENUM_VALUE = "unknown_enum_value"  # also a project's value
    UNKNOWN_PARAM = "unknown_param"
    UNKNOWN_UNIT = "unknown_unit"
    TYPE_MISMATCH = "type_mismatch"
    UNIT_MISMATCH = "unit_mismatch"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"
    CONDITION_TOO_COMPLEX = "condition_too_complex"
    BOUND_WORDING_MISMATCH = "bound_wording_mismatch"
    NO_STEPS = "no_steps"
    ROUTE_WITHOUT_UNITS = "route_without_units"
    # a project's facts
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    OUT_OF_RANGE = "out_of_range"
    BAD_REGION = "bad_region"

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self in _WARNINGS else Severity.ERROR


# The problems a drafter should look at but that leave the policy set usable.
_WARNINGS = frozenset({Code.BOUND_WORDING_MISMATCH, Code.NO_STEPS, Code.SKIP_OF_CITED_CLAUSE})
