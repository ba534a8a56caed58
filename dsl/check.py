"""The checker: types every rule against the schema, proves every quote against its clause,
and resolves the AST into `dsl.resolved` form. All problems come back at once, as values."""

from __future__ import annotations

import difflib

from dsl import ast
from dsl.check_bounds import check_bounds
from dsl.check_clauses import with_clause_ids
from dsl.check_modality import check_modality, qualifiers
from dsl.check_routes import check_region, check_units
from dsl.compile import MAX_CONJUNCTS, engine_number_ok, fits_the_engine
from dsl.dates import BadDate, parse_date
from dsl.diagnostic_text import (
    FIELD_KINDS,
    NO_HINT,
    Fact,
    Wording,
    advise,
    diagnostic,
    did_you_mean,
    dimension,
)
from dsl.errors import Diagnostic, Span
from dsl.resolved import (
    COMPARATORS,
    AllOf,
    AnyOf,
    Cond,
    NotC,
    ParamValue,
    PolicyR,
    RouteR,
    RuleR,
    Test,
    split_units,
)
from dsl.schema import Schema
from dsl.sources import ClauseSource
from dsl.units import UNITS, Quantity, dimension_of, parse_quantity
from dsl.vocabulary import Code, Outcome


def check_schema(module: ast.Module) -> tuple[Schema | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    node = module.schema
    if node is None:
        return None, [diagnostic(Code.MISSING_SCHEMA, Span(module.path))]
    seen: dict[str, ast.FieldDef] = {}
    for f in node.fields:
        for key in (f.name, f.label):
            if key in seen:
                diags.append(diagnostic(Code.DUPLICATE_NAME, f.span, "field", name=key))
            seen[key] = f
        if f.type.kind == "enum":
            names = [v.name for v in f.type.values] + [v.label for v in f.type.values]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                repeated = sorted(dup)
                diags.append(
                    diagnostic(
                        Code.DUPLICATE_NAME, f.span, "enum_values", field=f.name, values=repeated
                    )
                )
        if f.default is not None and not _default_fits(f):
            value, kind = repr(f.default.value), FIELD_KINDS[f.type.kind]
            diags.append(
                diagnostic(
                    Code.TYPE_MISMATCH, f.span, "default", value=value, kind=kind, field=f.name
                )
            )
    return Schema(node), diags


def _default_fits(f: ast.FieldDef) -> bool:
    kinds = {"bool": "bool", "number": "quantity", "date": "date"}
    return kinds.get(f.type.kind, "string") == f.default.kind if f.default else True


class _PolicyChecker:
    def __init__(self, module: ast.Module, schema: Schema, source: ClauseSource) -> None:
        self.module = module
        self.schema = schema
        self.source = source
        self.diags: list[Diagnostic] = []
        self.document = ""
        self.params: dict[str, ParamValue] = {}
        self.cited: set[str] = set()  # clauses cited so far, for the skips that come last

    def report(
        self, code: Code, span: Span, variant: str = "", *, hint: Wording = NO_HINT, **facts: Fact
    ) -> None:
        # `expected` given, so that mypy need not fear a fact passed in its place
        self.diags.append(diagnostic(code, span, variant, hint=hint, expected=(), **facts))

    # -- header ---------------------------------------------------------------------------
    def header(self) -> ast.PolicyHeader | None:
        h = self.module.header
        where = Span(self.module.path, 1, 1)
        if h is None:
            self.report(Code.MISSING_HEADER, where, "no_header")
            return None
        if not h.source:
            self.report(Code.MISSING_HEADER, h.span, "no_source")
        elif not self.source.has_document(h.source):
            self.report(Code.UNKNOWN_DOCUMENT, h.span, document=h.source)
        else:
            self.document = h.source
            self.diags += check_region(h, self.source.document_region(h.source))
        if not h.region:
            self.report(Code.MISSING_HEADER, h.span, "no_region")
        if not h.effective_from:
            self.report(Code.MISSING_HEADER, h.span, "no_effective")
        for label, value in (
            (Wording("发布", "issued"), h.issued),
            (Wording("施行", "effective"), h.effective_from),
            (Wording("施行截止", "until"), h.effective_until),
        ):
            if value and not _is_date(value):
                self.report(Code.BAD_DATE, h.span, "not_a_date", label=label, value=value)
        if h.effective_until and h.effective_from and h.effective_until < h.effective_from:
            self.report(Code.BAD_DATE, h.span, "period")
        return h

    # -- citations ------------------------------------------------------------------------
    def cite(self, c: ast.Cite) -> None:
        self.cited.add(c.clause)
        if not self.document:
            return
        text = self.source.clause_text(self.document, c.clause)
        if text is None:
            self.unknown_clause(c.clause, c.span)
            return
        if not c.quote.strip():
            self.report(Code.CITE_QUOTE_EMPTY, c.quote_span)
            return
        norm_quote, norm_text = self.source.normalize(c.quote), self.source.normalize(text)
        if norm_quote not in norm_text:
            closest = _closest(norm_quote, norm_text)
            self.report(
                Code.CITE_QUOTE_NOT_FOUND,
                c.quote_span,
                clause=c.clause,
                document=self.document,
                hint=advise("closest", clause=c.clause, closest=closest),
            )

    # -- parameters -----------------------------------------------------------------------
    def param(self, p: ast.Param) -> None:
        for c in p.cites:
            self.cite(c)
        if p.name in self.params:
            self.report(Code.DUPLICATE_NAME, p.span, "param", name=p.name)
        if p.value is not None and p.unit and p.unit not in UNITS:
            self.report(Code.UNKNOWN_UNIT, p.span, unit=p.unit)
        self.params[p.name] = ParamValue(
            p.name, str(p.value) if p.value else "", p.unit, p.value is None, p.cites, p.notes
        )

    # -- conditions -----------------------------------------------------------------------
    def field(self, ref: ast.FieldRef) -> ast.FieldDef | None:
        f = self.schema.field(ref.name)
        if f is None:
            names = [x.name for x in self.schema.fields] + [x.label for x in self.schema.fields]
            near = difflib.get_close_matches(ref.name, names, 3)
            self.report(Code.UNKNOWN_FIELD, ref.span, name=ref.name, hint=did_you_mean(near))
        return f

    def expect_kind(self, f: ast.FieldDef, kind: str, test: Wording, span: Span) -> bool:
        if f.type.kind == kind:
            return True
        self.report(
            Code.TYPE_MISMATCH,
            span,
            "kind",
            test=test,
            wanted=FIELD_KINDS[kind],
            field=f.name,
            label=f.label,
            kind=FIELD_KINDS[f.type.kind],
        )
        return False

    def cond(self, e: ast.Expr, used: set[str]) -> Cond | None:
        if isinstance(e, ast.And | ast.Or):
            items = [self.cond(x, used) for x in e.items]
            if any(i is None for i in items):
                return None
            ok = tuple(i for i in items if i is not None)
            return AllOf(ok) if isinstance(e, ast.And) else AnyOf(ok)
        if isinstance(e, ast.Not):
            inner = self.cond(e.item, used)
            return NotC(inner) if inner is not None else None
        f = self.field(e.field)
        if f is None:
            return None
        if isinstance(e, ast.Truth):
            if self.expect_kind(f, "bool", _BARE_TEST, e.span):
                return Test("bool", f.name, source=e)
            return None
        if isinstance(e, ast.Compare):
            return self.compare(e, f, used)
        if isinstance(e, ast.IsValue | ast.InSet):
            return self.membership(e, f)
        if isinstance(e, ast.Within):
            if self.expect_kind(f, "region", _WITHIN, e.span):
                return Test("within", f.name, values=(e.region,), source=e)
            return None
        if isinstance(e, ast.InIndustry):
            return self.industry(e, f)
        if self.expect_kind(f, "text", _CONTAINS, e.span):
            return Test("contains", f.name, values=e.phrases, source=e)
        return None

    def industry(self, e: ast.InIndustry, f: ast.FieldDef) -> Cond | None:
        if not self.expect_kind(f, "text", _IN_INDUSTRY, e.span):
            return None
        classes = self.schema.industries
        unknown = next((c for c in e.codes if c not in classes.rule_codes), None)
        if unknown is not None:
            self.diags.append(classes.unknown(unknown, e.span))
            return None
        return Test("industry", f.name, values=classes.spellings(e.codes), source=e)

    def compare(self, e: ast.Compare, f: ast.FieldDef, used: set[str]) -> Cond | None:
        comparison = Wording(f"比较‘{e.op}’", f"comparison '{e.op}'")
        if not self.expect_kind(f, "number", comparison, e.span):
            return None
        want = dimension_of(f.type.unit)
        op = COMPARATORS[e.op]
        if isinstance(e.operand, ast.ParamRef):
            p = self.params.get(e.operand.name)
            if p is None:
                self.report(
                    Code.UNKNOWN_PARAM,
                    e.operand.span,
                    name=e.operand.name,
                    hint=advise("params_first"),
                )
                return None
            used.add(p.name)
            if dimension_of(p.unit) != want:
                self.unit_mismatch(f, p.unit, e.operand.span)
                return None
            if p.unspecified:
                return Test("cmp", f.name, op, param=p.name, unspecified=True, source=e)
            q = _param_quantity(p)
            value = float(q.in_unit(f.type.unit))
            return self.bound(Test("cmp", f.name, op, value, param=p.name, source=e), e)
        q = e.operand
        if q.dimension != want:
            self.unit_mismatch(f, q.unit, e.operand_span)
            return None
        return self.bound(Test("cmp", f.name, op, float(q.in_unit(f.type.unit)), source=e), e)

    def bound(self, t: Test, e: ast.Compare) -> Test | None:
        if engine_number_ok(t.value):
            return t
        self.report(
            Code.NUMBER_OUT_OF_RANGE,
            e.operand_span,
            operand=str(e.operand),
            value=str(t.value),
            hint=advise("threshold_range"),
        )
        return None

    def unit_mismatch(self, f: ast.FieldDef, unit: str, span: Span) -> None:
        self.report(
            Code.UNIT_MISMATCH,
            span,
            field=f.name,
            label=f.label,
            wanted=dimension(dimension_of(f.type.unit)),
            wanted_unit=f.type.unit or _NO_UNIT,
            dimension=dimension(dimension_of(unit)),
            unit=unit or _NO_UNIT,
        )

    def membership(self, e: ast.IsValue | ast.InSet, f: ast.FieldDef) -> Cond | None:
        raw = (e.value,) if isinstance(e, ast.IsValue) else e.values
        if f.type.kind == "bool" and isinstance(e, ast.IsValue):
            truth = {"true": True, "真": True, "false": False, "假": False}.get(e.value)
            if truth is None:
                self.report(Code.TYPE_MISMATCH, e.span, "bool_value", field=f.name)
                return None
            test: Cond = Test("bool", f.name, source=e)
            return test if truth != e.negated else NotC(test)
        if not self.expect_kind(f, "enum", _IS_IN, e.span):
            return None
        values = []
        for v in raw:
            canonical = self.schema.enum_value(f, v)
            if canonical is None:
                allowed = [
                    Wording(f"{x.name}（{x.label}）", f"{x.name} ({x.label})")
                    for x in f.type.values
                ]
                self.report(
                    Code.UNKNOWN_ENUM_VALUE,
                    e.span,
                    value=v,
                    field=f.name,
                    hint=advise("one_of", values=allowed),
                )
                return None
            values.append(canonical)
        test = Test("eq", f.name, values=tuple(values), source=e)
        negated = isinstance(e, ast.IsValue) and e.negated
        return NotC(test) if negated else test

    # -- rules and routes -----------------------------------------------------------------
    def rule(self, r: ast.Rule, policy: str) -> RuleR | None:
        for c in r.cites:
            self.cite(c)
        used: set[str] = set()
        cond = self.cond(r.when, used)
        self.diags += check_bounds(r, self.params, self.source.normalize)
        self.diags += check_modality(r, self.source.normalize)
        if r.outcome in (Outcome.APPROVE, Outcome.FILE) and not r.steps:
            self.report(Code.NO_STEPS, r.name_span, rule=r.name, outcome=r.outcome)
        if cond is None:
            return None
        if not fits_the_engine(cond, self.schema):
            self.report(
                Code.CONDITION_TOO_COMPLEX,
                r.name_span,
                rule=r.name,
                limit=MAX_CONJUNCTS,
                hint=advise("split_rule"),
            )
            return None
        return RuleR(
            f"{policy}/{r.name}",
            policy,
            r,
            cond,
            tuple(sorted(used)),
            qualifiers(r, self.source.normalize),
        )

    def unreviewed(self, item: ast.Route | ast.Skip) -> None:
        if not item.unreviewed:
            return
        hint = advise("review_draft")
        if isinstance(item, ast.Route):
            self.report(Code.UNREVIEWED_DRAFT, item.span, "route", name=item.name, hint=hint)
        else:
            self.report(Code.UNREVIEWED_DRAFT, item.span, "skip", clause=item.clause, hint=hint)

    def route(self, r: ast.Route, policy: str) -> RouteR:
        self.unreviewed(r)
        for c in r.cites:
            self.cite(c)
        if r.lead is None and r.responsible is None:
            self.report(Code.ROUTE_WITHOUT_UNITS, r.span, name=r.name)
        if self.document:
            texts = {c.clause: self.source.clause_text(self.document, c.clause) for c in r.cites}
            found = {clause: text for clause, text in texts.items() if text is not None}
            self.diags += check_units(r, found, self.source.normalize)

        def names(u: ast.Units | None) -> tuple[str, ...]:
            if u is None:
                return ()
            return u.names or split_units(u.original)

        return RouteR(
            f"{policy}/{r.name}",
            policy,
            r,
            names(r.lead),
            names(r.responsible),
            names(r.assisting),
        )

    def unknown_clause(self, clause: str, span: Span) -> None:
        near = self.source.nearest_clauses(self.document, clause)
        self.report(
            Code.CITE_CLAUSE_UNKNOWN,
            span,
            clause=clause,
            document=self.document,
            hint=did_you_mean(near),
        )

    def skip(self, s: ast.Skip) -> None:
        self.unreviewed(s)
        if self.document and self.source.clause_text(self.document, s.clause) is None:
            self.unknown_clause(s.clause, s.span)
        if s.clause in self.cited:
            self.report(Code.SKIP_OF_CITED_CLAUSE, s.span, clause=s.clause)
        if not s.reason.strip():
            self.report(Code.SKIP_WITHOUT_REASON, s.span)

    def run(self) -> PolicyR | None:
        header = self.header()
        if self.document:
            document = self.document
            self.module = with_clause_ids(
                self.module, lambda clause: self.source.resolve_clause(document, clause)
            )
        for p in self.module.params:
            self.param(p)
        names: dict[str, Span] = {}
        rules, routes = [], []
        policy = header.id if header else "?"
        for item in self.module.items:
            if isinstance(item, ast.Rule | ast.Route):
                if item.name in names:
                    self.report(Code.DUPLICATE_NAME, item.span, "item", name=item.name)
                names[item.name] = item.span
            if isinstance(item, ast.Rule):
                resolved = self.rule(item, policy)
                if resolved is not None:
                    rules.append(resolved)
            elif isinstance(item, ast.Route):
                routes.append(self.route(item, policy))
        for s in self.module.skips:
            self.skip(s)
        if header is None:
            return None
        return PolicyR(
            header,
            self.module.path,
            tuple(rules),
            tuple(routes),
            dict(self.params),
            tuple(self.module.skips),
            (self.document and self.source.document_provenance(self.document)) or "",
        )


def check_policy(
    module: ast.Module, schema: Schema, source: ClauseSource
) -> tuple[PolicyR | None, list[Diagnostic]]:
    checker = _PolicyChecker(module, schema, source)
    policy = checker.run()
    if module.schema is not None:
        checker.report(Code.MISPLACED_SCHEMA, module.schema.span)
    return policy, checker.diags


# What each test is called where it meets a field of another type.
_BARE_TEST = Wording("单独的字段检验", "a bare field test")
_WITHIN = Wording("`位于`（within）", "`within` (位于)")
_CONTAINS = Wording("`包含`（contains）", "`contains` (包含)")
_IN_INDUSTRY = Wording("`属于行业`（in_industry）", "`in_industry` (属于行业)")
_IS_IN = Wording("`是`/`属于`（is/in）", "`is`/`in`")
_NO_UNIT = Wording("无单位", "no unit")


def _is_date(text: str) -> bool:
    try:
        parse_date(text)
    except BadDate:
        return False
    return True


def _param_quantity(p: ParamValue) -> Quantity:
    return parse_quantity(p.value)


def _closest(quote: str, text: str) -> str:
    if not text:
        return ""
    n = min(len(quote), len(text))
    best, best_ratio = text[:n], -1.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(quote)
    for start in range(0, len(text) - n + 1):
        matcher.set_seq1(text[start : start + n])
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = text[start : start + n], ratio
    return best
