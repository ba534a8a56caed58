"""What kind of answer a question asks for, and whether a passage has one of that kind.

A question that asks for an amount of money ("补偿款", "多少万元"), a time limit ("要几天",
"多长时间"), a share ("比例", "百分之几"), a price per unit ("每吨多少钱", "租金", "价格"), the
conditions to meet ("要满足哪些条件", "认定标准") or a grade ("执行几级标准") is answered only
by a passage that states one: a clause on the same topic without any amount does not answer
"多少钱", however close its words, and one that names 1000万元 does not answer "每亩多少万元".
Search uses this as one feature of a hit's relevance (kb.calibration.Features.lacks), the
classic "expected answer type" of question answering, kept to kinds whose forms are
unambiguous in Chinese. A question may ask for none of them (most do): then nothing is lacking.

    lacks(asks("平凉园区的工业用水每吨多少钱？"), clause_text) -> True when the clause names
    no amount, or no amount per unit
"""

from __future__ import annotations

import re

from kb.normalize import normalize

__all__ = ["KINDS", "asks", "lacks"]

_NUMBER = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千万]+)"
# What a price is quoted per: 每吨, 元/平方米, 亩均.
_UNIT = r"(?:吨|度|亩|平方米|平米|平方|立方米|方|人|家|户|个月|月)"
# kind: (how a question asks for it, how a passage states it), both on normalised text.
KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (
        re.compile(r"多少钱|多少万元|多少元|多少万|补偿款|价格|价钱|起始价|地价|收费标准|每吨"),
        re.compile(_NUMBER + r"(?:元|万元|亿元|万|亿)"),
    ),
    "duration": (
        re.compile(r"多长时间|多久|几天|多少天|几个工作日|几个月|时限|减免几年|几年内"),
        re.compile(_NUMBER + r"个?(?:工作日|天|日|个月|小时|周)|时限|期限"),
    ),
    "share": (
        re.compile(r"百分之几|比例|占比|多少%|几成"),
        re.compile(r"%|百分之|比例|" + _NUMBER + r"成"),
    ),
    # A price is an amount per unit: a clause with a total (1000万元) does not state one.
    "price": (
        re.compile(
            r"每个?" + _UNIT + r".{0,8}多少|多少钱一|单价|价格|价钱|租金|电价|水价|气价|地价"
            r"|起始价|收费标准"
        ),
        re.compile(r"每个?" + _UNIT + "|" + _UNIT + r"均|/" + _UNIT + r"|元每"),
    ),
    "criteria": (
        re.compile(
            r"(?:满足|符合|具备|达到)(?:哪些|什么|啥)(?:条件|标准|要求)"
            r"|(?:认定|申请|申报|准入)的?(?:条件|标准|门槛)|门槛"
        ),
        re.compile(r"条件|标准|门槛|资格"),
    ),
    "grade": (
        re.compile(r"几级|什么等级|哪个等级|什么级别|哪个级别"),
        re.compile(_NUMBER + r"级|等级|级别"),
    ),
}


def asks(question: str) -> tuple[str, ...]:
    """The kinds of answer `question` asks for (none for most questions)."""
    text = normalize(question)
    return tuple(kind for kind, (asked, _) in KINDS.items() if asked.search(text))


def lacks(kinds: tuple[str, ...], passage: str) -> bool:
    """True when `passage` states no answer of some kind in `kinds`."""
    text = normalize(passage)
    return any(KINDS[kind][1].search(text) is None for kind in kinds)
