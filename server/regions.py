"""The regions the policy set covers, for the form's region list, and a suggestion for a
region typed in a way no policy recognises: a short form ("平凉"), the levels run together
("甘肃省平凉市"), a level left out ("平凉市/崆峒区") or a typo ("甘肃省/平良市"). A decision
for such a region is "not covered", which is true but not what the reviewer meant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dsl.predicates import within
from dsl.resolved import PolicySet

__all__ = ["Region", "regions", "suggest"]

MAX_SUGGESTIONS = 3
# Administrative suffixes, longest first, to say a level the short way (平凉市 → 平凉).
SUFFIXES = ("自治区", "自治州", "自治县", "地区", "省", "市", "区", "县", "州", "盟", "旗")
# Those that end a level run together with the next ("甘肃省平凉市"); not 州, 盟 or 旗, which
# also sit inside names (温州市).
_LEVEL = re.compile(r".+?(?:自治区|自治州|自治县|省|市|区|县)(?=.)|.+")


@dataclass(frozen=True)
class Region:
    path: str
    covered: bool  # a policy's own region: it and everything below it is covered


def regions(policies: PolicySet) -> list[Region]:
    """Each policy's region and every level above it (the levels a reviewer types through),
    in path order."""
    covered = {p.header.region for p in policies.policies if p.header.region}
    paths = set(covered)
    for region in covered:
        parts = region.split("/")
        paths |= {"/".join(parts[:i]) for i in range(1, len(parts))}
    return [Region(p, p in covered) for p in sorted(paths)]


def _levels(typed: str) -> list[str]:
    """The levels of a typed region: split at "/" (or ／ and \\), and a run of levels such as
    甘肃省平凉市 at its suffixes."""
    parts = re.split(r"[/／\\]", typed)
    return [level for part in parts if part.strip() for level in _LEVEL.findall(part.strip())]


def _core(level: str) -> str:
    for suffix in SUFFIXES:
        if level.endswith(suffix) and len(level) - len(suffix) >= 2:
            return level[: -len(suffix)]
    return level


def _distance_one(a: str, b: str) -> bool:
    """One character replaced, added or removed."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _cost(typed: str, level: str) -> int | None:
    """0: the same level; 1: its short or another form (平凉 for 平凉市); 2: a typo; None:
    another level."""
    if typed == level:
        return 0
    if _core(typed) == _core(level):
        return 1
    if _distance_one(typed, level):
        return 2
    return None


def suggest(typed: str, known: Sequence[Region]) -> list[str]:
    """The regions the reviewer probably meant, best first; [] when `typed` already lies in a
    covered region or above one (the decision then names the regions below it), or when
    nothing is close. A typo counts only beside a level that matches exactly, so that 广州市
    alone is not taken for 温州市."""
    levels = _levels(typed)
    if not levels:
        return []
    clean = "/".join(levels)
    covered = [r.path for r in known if r.covered]
    if any(within(clean, c) or within(c, clean) for c in covered):
        return [clean] if clean != typed.strip() else []
    nodes = {r.path for r in known}
    found: dict[str, tuple[int, int]] = {}
    for region in known:
        path = region.path.split("/")
        # The typed levels may start below the top of the path (平凉市/崆峒区).
        for start in range(len(path)):
            matched = path[start:]
            if len(levels) < len(matched):
                continue
            costs = [_cost(t, p) for t, p in zip(levels, matched, strict=False)]
            if None in costs:
                continue
            typos = costs.count(2)
            if typos > 1 or (typos and 0 not in costs):
                continue
            guess = "/".join([*path, *levels[len(matched) :]])
            if guess not in nodes and not any(within(guess, c) for c in covered):
                continue  # 甘肃省/平良市 is no better than what was typed
            rank = (sum(c or 0 for c in costs), -len(matched))
            found[guess] = min(rank, found.get(guess, rank))
    return sorted(found, key=lambda g: found[g])[:MAX_SUGGESTIONS]
