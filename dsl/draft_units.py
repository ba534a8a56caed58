"""The units a clause names in one of the fixed patterns of implementing opinions, for
`zhengce draft` (dsl.draft). Each find keeps the words of the text exactly: the quote is a
slice of the clause, and each role's units are the list as written ("市财政局、市教育局"),
which the language splits at 、，；(dsl.resolved.split_units).

    （牵头单位：X，配合单位：Y、Z）   one find: lead X, assisting "Y、Z" (also 责任单位,
                                     协办/协助单位, and 部门 for 单位)
    由X负责                          responsible X
    X牵头、Y配合  /  由X牵头，Y配合    lead X, assisting Y (配合, 协助 or 协办)

A find is only a draft: a drafter reads every one against the clause (`待审`). To keep the
drafts worth reading, a unit from the last two patterns must end like the name of a body
(局, 委, 办, 政府, 街道 …), so "主要负责同志分别牵头" drafts nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dsl.vocabulary import Role

__all__ = ["NamedUnits", "named_units"]

_LABEL_ROLES = {
    "牵头": Role.LEAD,
    "责任": Role.RESPONSIBLE,
    "配合": Role.ASSISTING,
    "协办": Role.ASSISTING,
    "协助": Role.ASSISTING,
}
_ROLE_LABEL = re.compile(
    r"(牵头|牽頭|责任|責任|配合|协办|協辦|协助|協助)(?:单位|單位|部门|部門)\s*[:：]"
)
_TRADITIONAL = {"牽頭": "牵头", "責任": "责任", "協辦": "协办", "協助": "协助"}
_SEPARATORS = "，,；;、 \u3000\n"
_OPEN, _CLOSE = "（(", "）)"
# The last character of a body's name: 局 委 办 厅 部 (政)府 (管委)会 处 室 院 所 (中)心 单位 部门
# 街道 镇 区 县 市 组 司 队 行 站 社 团 馆.
_BODY_END = "局委办辦厅廳部府会會处處室院所心位门門道镇鎮区區县縣市组組司队隊行站社团團馆館"
_UNIT = rf"[^，,。；;：:\n、由]{{1,30}}[{_BODY_END}]"
_UNITS = rf"{_UNIT}(?:、{_UNIT})*"
_RESPONSIBLE = re.compile(rf"由({_UNITS})(?:负责|負責)(?!同志|人)")
_LEAD = re.compile(
    rf"(?:(?<=[，,。；;：:\n（(])|^|由)({_UNITS})(?:牵头|牽頭)(?![单單部])"
    rf"(?:[、，,]({_UNITS})(?:配合|协助|協助|协办|協辦))?"
)


@dataclass(frozen=True)
class NamedUnits:
    """One place where a clause names its units: the verbatim words and each role's list
    as written ("" when that role is not named)."""

    quote: str
    lead: str = ""
    responsible: str = ""
    assisting: str = ""

    @property
    def routable(self) -> bool:
        """A route needs a lead or a responsible unit (`route_without_units`)."""
        return bool(self.lead or self.responsible)


def named_units(text: str) -> list[NamedUnits]:
    """Every place in `text` that names units in one of the patterns, in reading order."""
    found = _labelled(text)
    taken = [(start, end) for start, end, _ in found]
    for pattern in (_LEAD, _RESPONSIBLE):
        for match in pattern.finditer(text):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue
            taken.append(match.span())
            if pattern is _LEAD:
                units = NamedUnits(match.group(0), lead=match[1], assisting=match[2] or "")
            else:
                units = NamedUnits(match.group(0), responsible=match[1])
            found.append((match.start(), match.end(), units))
    return [units for _, _, units in sorted(found, key=lambda f: f[0])]


def _labelled(text: str) -> list[tuple[int, int, NamedUnits]]:
    """The role-label groups: labels that follow each other with only separators between
    their lists make one find."""
    groups: list[tuple[int, int, dict[Role, str]]] = []
    labels = list(_ROLE_LABEL.finditer(text))
    for index, label in enumerate(labels):
        stop = labels[index + 1].start() if index + 1 < len(labels) else len(text)
        end = _list_end(text, label.end(), stop, _enclosed(text, label.start()))
        # A list wrapped inside brackets is one list: the line break is the page's layout.
        units = re.sub(r"\s*\n\s*", "", text[label.end() : end]).strip(_SEPARATORS)
        role = _LABEL_ROLES[_TRADITIONAL.get(label[1], label[1])]
        if not units:
            continue
        joined = bool(groups) and text[groups[-1][1] : label.start()].strip(_SEPARATORS) == ""
        if joined and role not in groups[-1][2]:
            start, _, roles = groups.pop()
            groups.append((start, end, {**roles, role: units}))
        else:
            groups.append((label.start(), end, {role: units}))
    return [
        (
            start,
            end,
            NamedUnits(
                text[start:end].rstrip(_SEPARATORS),
                roles.get(Role.LEAD, ""),
                roles.get(Role.RESPONSIBLE, ""),
                roles.get(Role.ASSISTING, ""),
            ),
        )
        for start, end, roles in groups
    ]


def _enclosed(text: str, position: int) -> bool:
    """Whether `position` is inside a bracket opened earlier in its sentence."""
    depth, sentence = 0, text.rfind("。", 0, position) + 1
    for char in reversed(text[sentence:position]):
        if char in _CLOSE:
            depth -= 1
        elif char in _OPEN:
            depth += 1
            if depth > 0:
                return True
    return False


def _list_end(text: str, start: int, stop: int, enclosed: bool) -> int:
    """Where the list of units from `start` ends: at the next role label (`stop`), at the
    bracket that closes the one the list is in, or at the end of the sentence (a line break
    ends it too, unless the list is in brackets, which may wrap)."""
    depth = 0
    ends = "。" if enclosed else "。\n"
    for position in range(start, stop):
        char = text[position]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth < 0:
                return position
        elif char in ends and depth == 0:
            return position
    return stop
