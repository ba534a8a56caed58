"""dsl.counterfactual's search, run on cells for the compiled evaluator: the same changes
examined in the same order within the same budget, with the same predictions and
verifications, so the same counterfactuals, at a fraction of the cost (issue 15).

A project's cell is T, the values of the atomic tests of the policies in force and the
presence of the fields only open parameters read (dsl/codegen.py). No counterfactual's text
carries the project's own value (a number's change is worded by the bound it crosses), so a
search depends on T and on each field's candidate changes, and nothing else: it is kept by
those (`Changes`, shared by the values of a field with the same candidates in the same
order, less those that leave the field's tests as they are: `CellSpace.moving`). A rule's
state, all that dsl.combine takes from it, is a function of the places of T its tests take,
and a changed project differs from the project only in the places of the fields changed. So
a new cell's search is mostly lookups:
- T is packed in an int, two bits a place, and so is S, the states of all rules, each in a
  slot of its own (False 0, True 1, an unknown condition 2 + its tests' values in base 3);
- a candidate change is the bits its value puts in its field's places (kept by value), and
  its S is the project's with the slots of the rules testing that field redone, each rule's
  code kept by the bits of T it reads; the slots whose state the new value settles
  whatever the other tests give (so with them all unknown, Kleene's logic being monotone:
  a test that fails a 且) are known with the change;
- a pair of changes to fields no rule tests together has S + ΔS(a) + ΔS(b), and "the pair
  gives what one of its changes gives alone" is a test of one ΔS against zero, as it is
  where one change settles every rule testing both fields and the other changes no rule
  testing its own field only; of the changes to a field that put the same bits in T, only
  the first can be reported in a pair, so only it is paired (where the budget cannot run
  out, which Search's order then keeps);
- predictions are kept by S, as Search keeps them by the rules' states, and made once for
  the states that differ only in the tests of unknown rules without an outcome (which no
  prediction reads); verifications by S and what says whether the fields open parameters
  read are present, from which the compiled skeleton's key (R and what the unknown rules
  read) follows. A verification is a `Verdict`, all a counterfactual reads of the changed
  project's decision (dsl/compiled.py makes it from the firing, without assembling the
  rest); one that disagrees with its prediction (never seen) leaves the search to Search,
  whose rules for that case this module does not copy;
- a counterfactual's text is kept by the changes, the verdict and what the decision itself
  rests on, all hashed by identity, and what follows from a verdict by the verdict.

Every kept value is a pure function of its key, so the dicts are shared by threads without
a lock (a value computed twice is the same value) and emptied at LIMIT entries. Results are
numbered once per space (few: outcome, strength and path; never emptied, and numbered under
a lock, as two results must never share a number), so that comparing them hashes no enums.
A policy set whose rules test the region, or a search that runs out of its budget, is
left to dsl.counterfactual.Search (`search` returns None).
"""

from __future__ import annotations

import math
import operator
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from dsl import counterfactual as search_module
from dsl.codegen import PolicyCode
from dsl.combine import combine, unique
from dsl.counterfactual import (
    Candidate,
    Consequence,
    Counterfactual,
    FactChange,
    Result,
    Verdict,
    cites_of,
    consequence,
    counterfactual_of,
    field_candidates,
    report,
    result_of,
    tests_by_field,
)
from dsl.interpret import atomic_tests
from dsl.interpret import test as evaluate_test
from dsl.resolved import AllOf, Cond, NotC, PolicyR, Test
from dsl.schema import FactValue, Schema

if TYPE_CHECKING:
    from dsl.decide import Decision

# Entries per kept dict. Every object kept is one more for the garbage collector's full
# passes to walk, so a dict is emptied well before the memory would matter.
LIMIT = 8192
_DIGIT = {False: 0, None: 1, True: 2}  # a test's value as a base-3 digit of a state's code
_TRI = (False, None, True)  # and back; T holds the same codes (dsl.codegen)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Verify = Callable[[Mapping[str, FactValue]], Verdict]
Searched = tuple[tuple[Counterfactual, ...], bool] | None
Shared = tuple[tuple["_Slot", ...], int, int, int]


def tag(value: object) -> object:
    """What a key holds beside a fact value: its class, as True and 1.0 are equal in Python
    but not as facts, and for a float zero its sign (-0.0 is written -0)."""
    if isinstance(value, float) and value == 0.0:
        return math.copysign(1.0, value)
    return value.__class__


def remember(cache: dict[K, V], key: K, value: V) -> V:
    if len(cache) >= LIMIT:
        cache.clear()  # rare, and cheaper than tracking use; the values are made again
    cache[key] = value
    return value


def _tri(cond: Cond, values: list[bool | None]) -> bool | None:
    """dsl.interpret.evaluate with the atomic tests' values given in reading order, taken
    from the end of `values` (reversed)."""
    if isinstance(cond, Test):
        return values.pop()
    if isinstance(cond, NotC):
        inner = _tri(cond.item, values)
        return None if inner is None else not inner
    results = [_tri(c, values) for c in cond.items]  # every item, to take all its values
    if isinstance(cond, AllOf):
        return False if False in results else None if None in results else True
    return True if True in results else None if None in results else False


class _Slot:
    """A rule's slot in S, and the places of T its atomic tests take in reading order."""

    __slots__ = ("codes", "cond", "mask", "offset", "ones", "places", "width")

    def __init__(self, cond: Cond, places: list[int], offset: int) -> None:
        self.cond = cond
        self.places = places
        self.mask = sum(3 << 2 * p for p in set(places))
        self.offset = offset
        self.width: int = (2 + 3 ** len(places)).bit_length()
        self.ones: int = (1 << self.width) - 1
        self.codes: dict[int, int] = {}  # T & mask -> the state's code, in its slot

    @property
    def bits(self) -> int:
        return self.ones << self.offset

    def code(self, t: int) -> int:
        read = t & self.mask
        code = self.codes.get(read)
        if code is None:
            values = [_TRI[read >> 2 * p & 3] for p in self.places]
            holds = _tri(self.cond, values[::-1])
            if holds is None:
                number = 2 + sum(_DIGIT[v] * 3**i for i, v in enumerate(values))
            else:
                number = int(holds)
            code = remember(self.codes, read, number << self.offset)
        return code


@dataclass(frozen=True, eq=False)  # hashed by identity: kept in Changes, keys of texts
class Choice:
    """A candidate change with what the search needs of it: the field's places in T (as
    the mask that clears them) and the bits the new value puts there, and the slots in S of
    the rules testing the field."""

    candidate: Candidate
    change: FactChange  # as a counterfactual says it
    field: int  # the field's number in the space
    clear: int
    bits: int
    mask: int  # the slots' bits
    pins: int  # the bits of the slots whose state the new value settles, whatever the rest
    settled: int  # those states' codes
    unsettled: tuple[_Slot, ...]  # the other slots


class Changes:
    """The candidate changes of one field for the values that have the same ones. Kept
    searches are keyed by these objects themselves: hashed by identity, so a key costs
    little to hash, and one a key holds stays alive, so no other can take its place."""

    __slots__ = ("choices",)

    def __init__(self, choices: tuple[Choice, ...]) -> None:
        self.choices = choices


class CellSpace:
    """One set of policies in force: the places of T and the slots of S, with the kept
    codes, predictions and verifications of every search over it."""

    def __init__(
        self, codes: Sequence[PolicyCode], every_policy: Sequence[PolicyR], schema: Schema
    ) -> None:
        self.schema = schema
        self.by_id = {c.policy.id: c.policy for c in codes}
        self.cites = cites_of(every_policy)
        self.rules = [r for c in codes for r in c.policy.rules]
        tests: dict[str, list[tuple[int, Test]]] = {}
        places: dict[str, list[int]] = {}
        self.presence = 0  # the bits of the presence places
        place: dict[tuple[int, Test], int] = {}
        n = 0
        for k, c in enumerate(codes):  # T of several policies is theirs end to end
            for t in c.tests:
                place[(k, t)] = n
                tests.setdefault(t.field, []).append((n, t))
                places.setdefault(t.field, []).append(n)
                n += 1
            for name in c.presence:
                places.setdefault(name, []).append(n)
                self.presence |= 1 << 2 * n
                n += 1
        self.shifts = tuple(range(0, 2 * n, 2))
        self._unknown = sum(1 << 2 * p for p in range(n))  # T with every place unknown
        # The bits of T a verification is kept by beside S: what says which fields the tests
        # of open parameters read are present (the presence places, and the tests of bounds
        # the text gives on the other such fields: dsl.codegen's `reads`).
        self.kept_by = self.presence | sum(
            3 << 2 * p
            for name in {t.field for c in codes for t in c.tests if t.unspecified}
            for p, t in tests.get(name, [])
            if not t.unspecified
        )
        self._tests = tests
        self._places = places
        self.slots: list[_Slot] = []
        slots_of: dict[str, list[_Slot]] = {}
        offset = 0
        for k, c in enumerate(codes):
            for r in c.policy.rules:
                read = list(atomic_tests(r.cond))
                slot = _Slot(r.cond, [place[(k, t)] for t in read], offset)
                offset += slot.width
                self.slots.append(slot)
                for name in dict.fromkeys(t.field for t in read):
                    slots_of.setdefault(name, []).append(slot)
        self._slots_of = slots_of
        self.fields = sorted(slots_of)
        number = {name: i for i, name in enumerate(self.fields)}
        self._number = number
        # For each two fields, the rules testing both and their slots' bits, and the bits of
        # the slots of the rules testing only the one, and only the other (None: none).
        self.both: list[list[Shared | None]] = [
            [self._both(a, b) for b in self.fields] for a in self.fields
        ]
        self._bits: dict[tuple[str, object, FactValue], int] = {}
        by_field = tests_by_field(self.rules)
        self._changed = [(f, by_field[f.name]) for f in schema.fields if f.name in by_field]
        self._changes: dict[tuple[str, object, FactValue | None], Changes] = {}
        self._alike: dict[tuple[tuple[object, ...], ...], Changes] = {}
        self._moving: dict[tuple[Changes, int], Changes] = {}
        self.searched: dict[tuple[int, tuple[Changes, ...]], tuple[Searched]] = {}
        self._numbering = threading.Lock()
        self.results: dict[Result, int] = {}  # never emptied: few, and numbers must stay
        self.predicted: dict[int, int] = {}  # S -> the number of the result predicted
        self._rule_slots = list(zip(self.rules, self.slots, strict=True))
        # The same by S less the tests' values of the unknown rules that give no outcome:
        # no prediction reads them (dsl.combine settles an outcome from the tests of the
        # undetermined rules with an outcome only), so states that differ there share one.
        self._by_outcomes: dict[int, int] = {}
        self._silent = [(s.offset, s.ones) for r, s in self._rule_slots if r.ast.outcome is None]
        # S and T & kept_by -> the verdict, and the number of its result
        self.verified: dict[tuple[int, int], tuple[Verdict, int]] = {}
        self._told: dict[tuple[object, ...], Counterfactual] = {}
        self._follows: dict[tuple[object, ...], Consequence] = {}

    def _both(self, one: str, other: str) -> Shared | None:
        if one == other:
            return None
        theirs = set(map(id, self._slots_of[other]))
        slots = tuple(s for s in self._slots_of[one] if id(s) in theirs)
        if not slots:
            return None
        mask = sum(s.bits for s in slots)
        only_one = sum(s.bits for s in self._slots_of[one]) & ~mask
        only_other = sum(s.bits for s in self._slots_of[other]) & ~mask
        return slots, mask, only_one, only_other

    def changes(self, facts: Mapping[str, FactValue]) -> list[Changes]:
        """The candidate changes of each field tested, in the schema's order (those of a
        field depend on its value only: dsl.counterfactual.field_candidates); one object
        for the values with the same ones, so a search is kept by the cell and these."""
        out = []
        for f, tests in self._changed:
            value = facts.get(f.name)
            key = (f.name, tag(value), value)
            found = self._changes.get(key)
            if found is None:
                made = field_candidates(f, tests, value, self.schema)
                said = tuple((c.field, c.value, c.text, c.one_per_result) for c in made)
                found = self._alike.get(said)
                if found is None:
                    found = remember(self._alike, said, Changes(self._choices(made)))
                remember(self._changes, key, found)
            out.append(found)
        return out

    def moving(self, changes: Changes, t: int) -> Changes:
        """`changes` less those that leave the field's tests as they are in T: alone they
        change nothing, and beside another change they give what it gives alone, so only
        the budget they take tells them apart (and the caller makes sure it cannot run out).
        Projects of one cell then share a search more often (untested values of an enum)."""
        if not changes.choices:
            return changes
        own = t & ~changes.choices[0].clear
        key = (changes, own)
        found = self._moving.get(key)
        if found is None:
            kept = tuple(c for c in changes.choices if c.bits != own)
            said = tuple(
                (c.candidate.field, c.candidate.value, c.candidate.text, c.candidate.one_per_result)
                for c in kept
            )
            found = self._alike.get(said)
            if found is None:
                found = remember(self._alike, said, Changes(kept))
            remember(self._moving, key, found)
        return found

    def _choices(self, candidates: Sequence[Candidate]) -> tuple[Choice, ...]:
        out = []
        for c in candidates:
            slots = tuple(self._slots_of[c.field])
            clear = ~sum(3 << 2 * p for p in self._places[c.field])
            bits = self._value_bits(c)
            # Every other test unknown: a condition true or false even so is so whatever
            # the other tests give (Kleene's logic is monotone in what is known).
            alone = self._unknown & clear | bits
            pins = settled = 0
            unsettled = []
            for slot in slots:
                code = slot.code(alone)
                if code >> slot.offset < 2:
                    pins, settled = pins | slot.bits, settled | code
                else:
                    unsettled.append(slot)
            out.append(
                Choice(
                    c,
                    FactChange(c.field, c.value, c.text),
                    self._number[c.field],
                    clear,
                    bits,
                    sum(s.bits for s in slots),
                    pins,
                    settled,
                    tuple(unsettled),
                )
            )
        return tuple(out)

    def _value_bits(self, c: Candidate) -> int:
        key = (c.field, c.value.__class__, c.value)
        bits = self._bits.get(key)
        if bits is None:
            facts = {c.field: c.value}
            bits = sum(_DIGIT[evaluate_test(t, facts)] << 2 * p for p, t in self._tests[c.field])
            for p in self._places[c.field]:
                bits |= self.presence & (1 << 2 * p)  # a presence place: the value is there
            bits = remember(self._bits, key, bits)
        return bits

    def told(
        self, changes: tuple[Choice, ...], v: Verdict, with_path: bool, before: tuple[str, ...]
    ) -> Counterfactual:
        """dsl.counterfactual.counterfactual, kept by the changes and the verdict they gave
        (both hashed by identity, and held by the key, so no other can take their place);
        what follows from them, by the verdict alone, for other changes that give it."""
        key = (v, with_path, before, changes)
        made = self._told.get(key)
        if made is None:
            follows = self._follows.get(key[:3])
            if follows is None:
                follows = consequence(v, with_path, before, self.cites, self.schema)
                follows = remember(self._follows, key[:3], follows)
            made = counterfactual_of(tuple(ch.change for ch in changes), follows)
            made = remember(self._told, key, made)
        return made

    def number(self, result: Result) -> int:
        n = self.results.get(result)
        if n is None:
            with self._numbering:  # two threads must not give two results one number
                n = self.results.setdefault(result, len(self.results))
        return n

    def packed(self, vector: Sequence[object]) -> int:
        t: int = sum(map(operator.lshift, vector, self.shifts))
        return t

    def states(self, t: int) -> int:
        s = 0
        for slot in self.slots:
            s |= slot.code(t)
        return s

    def predict(
        self, s: int, facts: Mapping[str, FactValue], changes: tuple[Candidate, ...]
    ) -> int:
        """Search._predict for the rules' states in `s`, those of `facts` with `changes`
        (not the project's own)."""
        n = self.predicted.get(s)
        if n is None:
            alike = s
            for offset, ones in self._silent:
                if alike >> offset & ones >= 2:  # unknown: only that it might apply counts
                    alike = alike & ~(ones << offset) | 2 << offset
            n = self._by_outcomes.get(alike)
            if n is None:
                changed = dict(facts)
                changed.update((c.field, c.value) for c in changes)
                codes = [(r, s >> slot.offset & slot.ones) for r, slot in self._rule_slots]
                fired = [r for r, code in codes if code == 1]
                maybe = [r for r, code in codes if code >= 2]  # unknown: combine reads facts
                c = combine(fired, maybe, self.by_id, changed, self.schema)
                steps = unique((x.authority, x.action) for r in c.path for x in r.ast.steps)
                made = self.number((c.outcome, c.strength, steps))
                n = remember(self._by_outcomes, alike, made)
            n = remember(self.predicted, s, n)
        return n


class _Abandon(Exception):
    """A verification disagreed with its prediction: Search itself says what follows."""


def search(
    space: CellSpace,
    vector: Sequence[object],
    fields: Sequence[Changes],
    base_decision: Decision,
    facts: Mapping[str, FactValue],
    verify: Verify,
) -> Searched:
    """Search.run over the candidate changes of `fields` (in the schema's order, nearest
    first within a field) for the project `facts` in the cell `vector`; `verify` decides a
    changed project again. None where Search would run out of its budget, or where a
    change's verification disagrees with its prediction (never seen: Search then answers)."""
    t = space.packed(vector)
    n = sum(len(f.choices) for f in fields)
    if n * (n - 1) // 2 <= search_module.MAX_EVALUATIONS - n:  # no pair is counted
        fields = [space.moving(f, t) for f in fields]
    key = (t, tuple(fields))
    kept = space.searched.get(key)
    if kept is None:  # kept in a 1-tuple, as None is an answer too (Search's, then)
        try:
            found = _search(space, t, [f.choices for f in fields], base_decision, facts, verify)
        except _Abandon:
            found = None
        kept = remember(space.searched, key, (found,))
    return kept[0]


def _search(
    space: CellSpace,
    t: int,
    fields: Sequence[tuple[Choice, ...]],
    base_decision: Decision,
    facts: Mapping[str, FactValue],
    verify: Verify,
) -> Searched:
    singles = [c for f in fields for c in f]
    n = len(singles)
    # Within the budget whatever the pairs: none need counting, and of changes to a field
    # that put the same bits in T only the first can be reported in a pair (the pairs of
    # the others come later in Search's order and give the same results).
    budget = search_module.MAX_EVALUATIONS - n  # read here, as Search reads it
    roomy = n * (n - 1) // 2 <= budget
    if budget < 0:
        return None
    s = space.states(t)
    base = space.number(result_of(base_decision))
    found: list[tuple[tuple[Choice, ...], Verdict]] = []
    reported: set[tuple[object, ...]] = set()

    def keep(
        changes: tuple[Choice, ...], names: tuple[str, ...], t2: int, s2: int, predicted: int
    ) -> None:
        key = (s2, t2 & space.kept_by)
        kept = space.verified.get(key)
        if kept is None:
            changed = dict(facts)
            changed.update((ch.candidate.field, ch.candidate.value) for ch in changes)
            v = verify(changed)
            kept = remember(space.verified, key, (v, space.number(v.result)))
        v, result = kept
        if result != predicted:
            raise _Abandon
        if result != base:
            reported.add((*names, result))
            found.append((changes, v))

    predicted = space.predicted
    after: list[int] = []  # per single, S with it alone
    outcomes: list[int] = []
    made: dict[tuple[int, int], int] = {}  # changes to a field with the same bits: one S
    for ch in singles:
        c = ch.candidate
        t1 = t & ch.clear | ch.bits
        s1 = made.get((ch.field, ch.bits), -1)
        if s1 < 0:
            s1 = s & ~ch.mask | ch.settled
            for slot in ch.unsettled:
                code = slot.codes.get(t1 & slot.mask)
                s1 |= slot.code(t1) if code is None else code
            made[(ch.field, ch.bits)] = s1
        after.append(s1)
        outcome = base if s1 == s else predicted.get(s1, -1)
        if outcome < 0:
            outcome = space.predict(s1, facts, (c,))
        outcomes.append(outcome)
        if outcome != base and not (c.one_per_result and (c.field, outcome) in reported):
            keep((ch,), (c.field,), t1, s1, outcome)
    by_one = set(outcomes)
    if roomy:
        firsts: dict[tuple[int, int], int] = {}
        for i, ch in enumerate(singles):
            firsts.setdefault((ch.field, ch.bits), i)
        pairing = sorted(firsts.values())
    else:
        pairing = list(range(n))
    # Search._pairs, in its order: each change that changes the result with each idle one,
    # and two idle ones, the earlier first; an idle change that leaves every rule as it was
    # only beside a change to a field one of its rules tests.
    idle = [(singles[i], after[i]) for i in pairing if outcomes[i] == base]
    seen = 0  # idle changes up to the current one
    for i in pairing:
        x = singles[i]
        x_idle = outcomes[i] == base
        if x_idle:
            seen += 1
        sx, fx, xm = after[i], x.field, x.mask
        x_inert = sx == s
        row = space.both[fx]
        tx, others, own = t & x.clear | x.bits, s & ~xm, sx & xm  # x made, in T and S
        for y, sy in idle[seen:] if x_idle else idle:
            if y.field == fx:
                continue
            shared = row[y.field]
            if shared is None:
                if x_inert if x_idle else sy == s:
                    continue  # not a pair Search examines
                if not roomy:
                    budget -= 1
                    if budget < 0:
                        return None
                if x_inert or sy == s:
                    continue  # the pair gives what one of its changes gives alone
                s2 = sx + sy - s
                t2 = -1  # not needed unless kept
            else:
                if not roomy:
                    budget -= 1
                    if budget < 0:
                        return None
                slots, mask, x_only, y_only = shared
                if (not mask & ~x.pins and not (sy ^ s) & y_only) or (
                    not mask & ~y.pins and not (sx ^ s) & x_only
                ):
                    continue  # one change settles every rule testing both: it gives that alone
                ym = y.mask
                t2 = tx & y.clear | y.bits
                s2 = others & ~ym | (own | sy & ym) & ~mask
                for slot in slots:
                    code = slot.codes.get(t2 & slot.mask)
                    s2 |= slot.code(t2) if code is None else code
                if s2 & ym == sx & ym or s2 & xm == sy & xm:
                    continue
            if s2 == s:
                continue  # the project's own result, which a single change gave
            result = predicted.get(s2, -1)
            if result < 0:
                result = space.predict(s2, facts, (x.candidate, y.candidate))
            if result in by_one:
                continue
            a, b = x.candidate.field, y.candidate.field
            names = (a, b) if a < b else (b, a)
            if (*names, result) not in reported:
                if t2 < 0:
                    t2 = tx & y.clear | y.bits
                keep((x, y), names, t2, s2, result)
    return report(found, base_decision, space.told), True
