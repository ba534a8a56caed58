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
  code kept by the bits of T it reads;
- a pair of changes to fields no rule tests together has S + ΔS(a) + ΔS(b), and "the pair
  gives what one of its changes gives alone" is a test of one ΔS against zero; of the
  changes to a field that put the same bits in T, only the first can be reported in a pair,
  so only it is paired (where the budget cannot run out, which Search's order then keeps);
- predictions are kept by S, as Search keeps them by the rules' states; verifications by S
  and what says whether the fields open parameters read are present, from which the
  compiled skeleton's key (R and what the unknown rules read) follows; a verification
  that disagrees with its prediction (never seen) leaves the search to Search, whose rules
  for that case this module does not copy.

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
    Counterfactual,
    Result,
    cites_of,
    counterfactual,
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
Verify = Callable[[Mapping[str, FactValue]], "Decision"]
Searched = tuple[tuple[Counterfactual, ...], bool] | None


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

    __slots__ = ("codes", "cond", "mask", "offset", "places", "width")

    def __init__(self, cond: Cond, places: list[int], offset: int) -> None:
        self.cond = cond
        self.places = places
        self.mask = sum(3 << 2 * p for p in set(places))
        self.offset = offset
        self.width: int = (2 + 3 ** len(places)).bit_length()
        self.codes: dict[int, int] = {}  # T & mask -> the state's code, in its slot

    @property
    def bits(self) -> int:
        return ((1 << self.width) - 1) << self.offset

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

    def state(self, s: int) -> object:
        """The state its slot of `s` holds, as dsl.counterfactual has it."""
        code = s >> self.offset & ((1 << self.width) - 1)
        if code < 2:
            return bool(code)
        code -= 2
        values = []
        for _ in self.places:
            code, digit = divmod(code, 3)
            values.append(_TRI[digit])
        return tuple(values)


@dataclass(frozen=True)
class Choice:
    """A candidate change with what the search needs of it: the field's places in T (as
    the mask that clears them) and the bits the new value puts there, and the rules testing
    the field with their slots in S."""

    candidate: Candidate
    field: int  # the field's number in the space
    clear: int
    bits: int
    slots: tuple[_Slot, ...]
    mask: int  # their slots' bits


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
        # For each two fields, the rules testing both and their slots' bits (None: none).
        self.both: list[list[tuple[tuple[_Slot, ...], int] | None]] = [
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
        # S and T & kept_by -> the decision, and the number of its result
        self.verified: dict[tuple[int, int], tuple[Decision, int]] = {}
        self._told: dict[tuple[object, ...], tuple[Decision, Counterfactual]] = {}

    def _both(self, one: str, other: str) -> tuple[tuple[_Slot, ...], int] | None:
        if one == other:
            return None
        theirs = set(map(id, self._slots_of[other]))
        slots = tuple(s for s in self._slots_of[one] if id(s) in theirs)
        return (slots, sum(s.bits for s in slots)) if slots else None

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
            out.append(
                Choice(
                    c,
                    self._number[c.field],
                    clear,
                    self._value_bits(c),
                    slots,
                    sum(s.bits for s in slots),
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
        self, changes: tuple[Candidate, ...], d: Decision, with_path: bool, before: tuple[str, ...]
    ) -> Counterfactual:
        """dsl.counterfactual.counterfactual, kept by the changes and the decision they gave
        (by identity: the entry holds the decision, so no other can take its id)."""
        key = (id(d), with_path, before, tuple((c.field, c.value, c.text) for c in changes))
        kept = self._told.get(key)
        if kept is None or kept[0] is not d:
            made = counterfactual(changes, d, with_path, before, self.cites, self.schema)
            kept = remember(self._told, key, (d, made))
        return kept[1]

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
            changed = dict(facts)
            changed.update((c.field, c.value) for c in changes)
            states = [(r, slot.state(s)) for r, slot in zip(self.rules, self.slots, strict=True)]
            fired = [r for r, state in states if state is True]
            maybe = [r for r, state in states if isinstance(state, tuple)]
            c = combine(fired, maybe, self.by_id, changed, self.schema)
            steps = unique((x.authority, x.action) for r in c.path for x in r.ast.steps)
            n = remember(self.predicted, s, self.number((c.outcome, c.strength, steps)))
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
    found: list[tuple[tuple[Candidate, ...], Decision]] = []
    reported: set[tuple[object, ...]] = set()

    def keep(changes: tuple[Choice, ...], t2: int, s2: int, predicted: int) -> None:
        key = (s2, t2 & space.kept_by)
        kept = space.verified.get(key)
        if kept is None:
            changed = dict(facts)
            changed.update((ch.candidate.field, ch.candidate.value) for ch in changes)
            d = verify(changed)
            kept = remember(space.verified, key, (d, space.number(result_of(d))))
        d, result = kept
        if result != predicted:
            raise _Abandon
        if result != base:
            reported.add((*sorted(ch.candidate.field for ch in changes), result))
            found.append((tuple(ch.candidate for ch in changes), d))

    after: list[int] = []  # per single, S with it alone
    outcomes: list[int] = []
    made: dict[tuple[int, int], int] = {}  # changes to a field with the same bits: one S
    for ch in singles:
        c = ch.candidate
        t1 = t & ch.clear | ch.bits
        s1 = made.get((ch.field, ch.bits), -1)
        if s1 < 0:
            s1 = s & ~ch.mask
            for slot in ch.slots:
                code = slot.codes.get(t1 & slot.mask)
                s1 |= slot.code(t1) if code is None else code
            made[(ch.field, ch.bits)] = s1
        after.append(s1)
        outcome = base if s1 == s else space.predict(s1, facts, (c,))
        outcomes.append(outcome)
        if outcome != base and not (c.one_per_result and (c.field, outcome) in reported):
            keep((ch,), t1, s1, outcome)
    by_one = set(outcomes)
    if roomy:
        firsts: dict[tuple[int, int], int] = {}
        for i, ch in enumerate(singles):
            firsts.setdefault((ch.field, ch.bits), i)
        pairing = sorted(firsts.values())
    else:
        pairing = list(range(n))
    predicted = space.predicted
    idle = [i for i in pairing if outcomes[i] == base]
    # Search._pairs, in its order: each change that changes the result with each idle one,
    # and two idle ones, the earlier first; an idle change that leaves every rule as it was
    # only beside a change to a field one of its rules tests.
    seen = 0  # idle changes up to the current one
    for i in pairing:
        x = singles[i]
        x_idle = outcomes[i] == base
        if x_idle:
            seen += 1
        sx, fx = after[i], x.field
        x_inert = sx == s
        row = space.both[fx]
        for j in idle[seen:] if x_idle else idle:
            y = singles[j]
            if y.field == fx:
                continue
            sy = after[j]
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
                slots, mask = shared
                t2 = t & x.clear & y.clear | x.bits | y.bits
                s2 = s & ~(x.mask | y.mask) | (sx & x.mask | sy & y.mask) & ~mask
                for slot in slots:
                    code = slot.codes.get(t2 & slot.mask)
                    s2 |= slot.code(t2) if code is None else code
                if s2 & y.mask == sx & y.mask or s2 & x.mask == sy & x.mask:
                    continue
            if s2 == s:
                continue  # the project's own result, which a single change gave
            result = predicted.get(s2, -1)
            if result < 0:
                result = space.predict(s2, facts, (x.candidate, y.candidate))
            if result in by_one:
                continue
            names = sorted((x.candidate.field, y.candidate.field))
            if (*names, result) not in reported:
                if t2 < 0:
                    t2 = t & x.clear & y.clear | x.bits | y.bits
                keep((x, y), t2, s2, result)
    return report(found, base_decision, space.told), True
