"""The units (offices, governments, groups, companies) a clause's text writes, as candidates
for a route's 牵头 / 责任 / 配合: the editor offers them while a drafter types a route.

Two readings, both returning only text that occurs verbatim in the clause (a route's unit
must, or `unit_not_in_clause` refuses it):
- the units `zhengce draft` finds (dsl.draft_units: "牵头单位：市人社局，配合单位：市财政局、
  市教育局", "由X负责", "X牵头、Y配合"): each list as written and each of its units;
- any other name that ends like a unit (…局, …委员会, …办, …人民政府, …领导小组, …公司 …),
  from the start of its phrase or after the word that introduces it (由, 向, 报, 简称 …).
These are suggestions for a person to pick from, not an answer: the second reading is a
heuristic and can offer a phrase that is not a unit.
"""

from __future__ import annotations

import re

from dsl.draft_units import named_units
from dsl.resolved import split_units

# How a unit's name ends; the look-arounds keep out the common words that end the same way
# (布局, 督办, 办理, 委托).
_SUFFIX = re.compile(
    r"委员会|管委会|人民政府|政府|领导小组|小组|办公室|公司|中心|厅"
    r"|(?<![布格结大全当])局"
    r"|(?<![督承代创举兴主协开查交经帮包])办(?![理法事学])"
    r"|委(?![托派员])"
)
# Words that introduce a unit inside a phrase; the unit starts after the last of them.
_INTRODUCER = re.compile(
    r".*(?:由|向|交由|提请|提交|会同|简称|报送|报请|协调|督促|指导|组织|经(?![济营信贸开])|报(?![告社])"
    r"|明确|发挥|支持|鼓励|组建|建立|设立|成立|依托|通过|参与)"
)
_BREAK = '，,。；;：:、“”"《》+＋ \t\n'
_LONGEST = 30


def unit_names(text: str) -> list[str]:
    """Candidate unit names in the text, labelled lists first, each once, in reading order."""
    found: list[str] = []
    for named in named_units(text):
        for written in (named.lead, named.responsible, named.assisting):
            if written:
                found += [written, *split_units(written)]
    for phrase in _phrases(text):
        for end in (m.end() for m in _SUFFIX.finditer(phrase)):
            name = phrase[:end]
            introduced = _INTRODUCER.match(name[:-1])
            if introduced is not None:
                name = name[introduced.end() :]
            if 2 <= len(name) <= _LONGEST and _balanced(name):
                found.append(name)
    return list(dict.fromkeys(n for n in found if n and n in text))


def _phrases(text: str) -> list[str]:
    """The text cut at punctuation outside brackets, so "县(市、区)人民政府" stays whole."""
    phrases, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "(（") - (ch in ")）")
        if depth <= 0 and ch in _BREAK:
            phrases.append(current)
            current, depth = "", 0
        else:
            current += ch
    phrases.append(current)
    return [p for p in phrases if p]


def _balanced(name: str) -> bool:
    depth = 0
    for ch in name:
        depth += (ch in "(（") - (ch in ")）")
        if depth < 0:
            return False
    return depth == 0
