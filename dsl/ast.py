# ruff: noqa: RUF009  (_span() builds a fresh dataclasses.field for each node field)
"""The AST: frozen dataclasses, one per construct. Spans do not take part in equality, so a
formatted-then-reparsed file compares equal to the original."""

from __future__ import annotations

from dataclasses import dataclass, field

from dsl.errors import NO_SPAN, Span
from dsl.units import Quantity
from dsl.vocabulary import Outcome, Strength


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Cite:
    clause: str
    quote: str
    span: Span = _span()
    quote_span: Span = _span()


# ---- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class ParamRef:
    name: str
    span: Span = _span()


Operand = Quantity | ParamRef


@dataclass(frozen=True)
class Truth:
    field: FieldRef
    span: Span = _span()


@dataclass(frozen=True)
class Compare:
    """`op` keeps the spelling (以上, at_least, >=): the checker matches it against the quote."""

    field: FieldRef
    op: str
    operand: Operand
    span: Span = _span()
    operand_span: Span = _span()


@dataclass(frozen=True)
class IsValue:
    field: FieldRef
    value: str
    negated: bool = False
    span: Span = _span()
    value_span: Span = _span()


@dataclass(frozen=True)
class InSet:
    field: FieldRef
    values: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Within:
    field: FieldRef
    region: str
    span: Span = _span()


@dataclass(frozen=True)
class Contains:
    field: FieldRef
    phrases: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True)
class InIndustry:
    """Membership in the industry classification by code: C26 a 大类, C a whole 门类."""

    field: FieldRef
    codes: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    item: Expr
    span: Span = _span()


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]
    span: Span = _span()


Atom = Truth | Compare | IsValue | InSet | Within | Contains | InIndustry
Expr = Atom | Not | And | Or


# ---- items --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    authority: str
    action: str
    span: Span = _span()


@dataclass(frozen=True)
class Priority:
    """A declared precedence (`例外` / `优先于`): over `target`, a rule name of the same policy,
    a rule key `policy/rule`, or a policy id (all its rules), because the clause `cite` says so.
    Special over general or later over earlier holds only where declared like this."""

    target: str
    cite: Cite
    span: Span = _span()


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    cites: tuple[Cite, ...]
    when: Expr
    outcome: Outcome | None  # None for a rule that only adds duties (never a verdict)
    steps: tuple[Step, ...] = ()
    obligations: tuple[str, ...] = ()
    benefits: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    strength: Strength = Strength.MANDATORY
    exception_to: tuple[Priority, ...] = ()  # `例外`: this rule is an exception to the targets
    prevails_over: tuple[Priority, ...] = ()  # `优先于`: this rule prevails over the targets
    exception_routes: tuple[str, ...] = ()  # `例外途径`: who may grant an exception, as written
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Param:
    """`value` None means the text leaves it open; `unit` then still fixes its dimension."""

    name: str
    value: Quantity | None
    unit: str
    cites: tuple[Cite, ...]
    notes: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class Units:
    """Units as the text writes them, and the units they name (explicit `as`/`即`, or split)."""

    original: str
    names: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class Route:
    name: str
    title: str
    cites: tuple[Cite, ...]
    matters: tuple[str, ...]
    lead: Units | None
    responsible: Units | None
    assisting: Units | None = None  # 配合 / 协助 / 协办
    notes: tuple[str, ...] = ()
    span: Span = _span()
    unreviewed: bool = False  # `待审`: drafted, not yet reviewed against the text


@dataclass(frozen=True)
class Skip:
    clause: str
    reason: str
    span: Span = _span()
    unreviewed: bool = False  # `待审`: drafted, not yet reviewed against the text


@dataclass(frozen=True)
class PolicyHeader:
    id: str
    source: str = ""
    title: str = ""
    doc_number: str = ""
    issuer: str = ""
    region: str = ""
    issued: str = ""
    effective_from: str = ""
    effective_until: str = ""
    trial: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class EnumValue:
    name: str
    label: str


@dataclass(frozen=True)
class FieldType:
    kind: str  # bool | text | region | date | number | enum
    unit: str = ""
    values: tuple[EnumValue, ...] = ()


@dataclass(frozen=True)
class Literal:
    kind: str  # quantity | string | date | bool
    value: str


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: FieldType
    default: Literal | None = None
    required: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Schema:
    name: str
    label: str
    fields: tuple[FieldDef, ...]
    span: Span = _span()


Item = PolicyHeader | Schema | Param | Rule | Route | Skip


@dataclass(frozen=True)
class Module:
    """One parsed file. `lang` (zh or en) is the keyword language the formatter writes."""

    path: str = field(compare=False)
    items: tuple[Item, ...] = ()
    lang: str = "en"
    # (line, text) of each comment: kept by the formatter, not part of the meaning.
    comments: tuple[tuple[int, str], ...] = field(default=(), compare=False)

    @property
    def header(self) -> PolicyHeader | None:
        return next((i for i in self.items if isinstance(i, PolicyHeader)), None)

    @property
    def schema(self) -> Schema | None:
        return next((i for i in self.items if isinstance(i, Schema)), None)

    @property
    def params(self) -> list[Param]:
        return [i for i in self.items if isinstance(i, Param)]

    @property
    def rules(self) -> list[Rule]:
        return [i for i in self.items if isinstance(i, Rule)]

    @property
    def routes(self) -> list[Route]:
        return [i for i in self.items if isinstance(i, Route)]

    @property
    def skips(self) -> list[Skip]:
        return [i for i in self.items if isinstance(i, Skip)]
