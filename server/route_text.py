"""What free-text routing weighs: the matter and the task, never the boilerplate that every
routing question and every unit list share.

A routing rule is recognised by its title, its matter phrases and the quotes it cites
(server.search.route_items). Many of those quotes are, or end in, a unit list written in a
fixed pattern — "(牵头单位：省发改委；责任单位：各市、县(区)政府)" — and routing questions are
written in one too — "…由哪个部门牵头？", "谁负责…？". Matched as text, the two patterns meet
in every question: a question about an item no rule encodes ("社会工作人才培养由哪个部门牵头？")
found a rule whose quote was "牵头单位：市人力资源和社会保障局，配合单位：…" (issue 13 §4).
So the unit lists are cut from the quotes (a quote that is nothing else is not used), and the
question words from the question (`matter_of`); what remains is matched.

    matter_of("化工园区清理整顿由谁牵头？")                 -> "化工园区清理整顿"
    task_text("加快整合(牵头单位:省发改委;责任单位:各市)")  -> "加快整合"
"""

from __future__ import annotations

import re

__all__ = ["asks_who", "matter_of", "task_text"]

# The question words with what hangs on them (由谁来负责, 找哪个部门, 哪个部门牵头), and the
# role words a question may name (牵头单位是谁).
_ASKS = re.compile(
    r"由谁|归谁|找谁|谁(?:来)?(?:负责|牵头|主管|管理|审批|审核|审定|办理|承担|组织|受理|批准)"
    r"|(?:哪个|哪些|什么|哪家|哪一个)(?:部门|单位|机构|机关)"
    r"|(?:牵头|责任|配合)(?:单位|部门)是(?:谁|哪)"
)
_QUESTION = re.compile(
    r"(?:(?:由|归|找|向)?(?:谁|(?:哪个|哪些|什么|哪家|哪一个)(?:部门|单位|机构|机关))(?:来)?"
    r"(?:负责|牵头|主管|管理|审批|审核|审定|办理|承担|组织|受理|批准)?)"
    r"|(?:牵头|责任|配合|协助|协办)(?:单位|部门)(?:是谁|是哪个|有哪些)?"
)
_TRIM = " 　的是，,。.？?！!吗呢"
# A unit list as the documents write it, in either script, up to its closing bracket or the end.
_ROLE = "(?:[牵牽][头頭]|[责責]任|配合|[协協]助|[协協][办辦])(?:[单單]位|部[门門])"
_UNITS = re.compile(rf"[(（]?\s*{_ROLE}\s*[:：][^)）]*[)）]?")
_WORDY = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
_MIN_CHARS = 2  # a quote left with fewer letters than this says nothing about the matter


def asks_who(query: str) -> bool:
    """Whether the question asks who is in charge (由谁, 谁负责, 哪个部门 …)."""
    return _ASKS.search(query) is not None


def matter_of(query: str) -> str:
    """The question without its question words: 租赁厂房的项目由谁审核 → 租赁厂房的项目."""
    return _QUESTION.sub("", query).strip(_TRIM)


def task_text(quote: str) -> str:
    """A cited quote without its unit lists; "" when nothing else is left."""
    task = _UNITS.sub("", quote).strip(_TRIM + "；;、")
    return task if len(_WORDY.findall(task)) >= _MIN_CHARS else ""
