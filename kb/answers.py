"""What kind of answer a question asks for, and whether a passage has one of that kind.

A question that asks for an amount of money ("补偿款", "多少万元", "能拿多少奖金"), a count
("多少个名额", "多少家"), a measure ("多少平方米"), a time limit ("要几天", "多长时间"), a
date ("哪一天开始施行"), a share ("比例", "百分之几", "打几折"), a person in an office ("组长是
哪位领导", "董事长是谁"), the papers to hand in ("要交哪些材料"), a price per unit ("每吨多少
钱", "租金", "价格"), the conditions to meet ("要满足哪些条件", "认定标准"), a grade ("执行
几级标准") or the company that does a job ("哪家公司承建") is answered only by a passage that
states one: a clause on the same topic without any amount does not answer "多少钱", however
close its words, and one that names 1000万元 does not answer "每亩多少万元"; a document's
number ("文号是多少") is stated only in its heading ("〔2017〕2号"). Search uses this as one
feature of a hit's relevance (kb.calibration.Features.lacks), the classic "expected answer
type" of question answering, kept to kinds whose forms are unambiguous in Chinese: "哪几个部门"
asks which, not how many, "几个县联合招引的项目" speaks of several (几个 asks how many only
where it ends the question: "最多负责几个项目？"), and "是谁批" asks for an authority, which any
clause may name. A question may ask for none of them (most do): then nothing is lacking.

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
# A number of years (3年, 五年), not a year (2020年).
_YEARS = r"(?<!\d)(?:\d{1,2}|[一二两三四五六七八九十]+)年"
# kind: (how a question asks for it, how a passage states it), both on normalised text.
KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (
        re.compile(
            r"多少钱|多少万元|多少元|多少万|多少亿|补偿款|价格|价钱|起始价|地价|收费标准|每吨"
            r"|(?:资金|奖金|奖励|补贴|补助|贴息|保费|注册资本|工资|薪酬)[^，。？,?]{0,6}多少"
            r"|(?:补|奖|贴|拿|返|减免|优惠|投)(?:到|了|给)?多少(?!比例|个|家|名|人|项|天|年)"
            r"|(?:收|交|缴|付)多少|多少(?:管理费|费用|服务费|年费|租金)"
        ),
        re.compile(_NUMBER + r"(?:元|万元|亿元|万|亿)"),
    ),
    "count": (
        # 几个 asks how many where it ends the question ("负责几个项目？"); elsewhere it means
        # several ("几个县联合招引的项目"), and 哪几个 asks which, 这几个 names these.
        re.compile(
            r"多少(?:个|家|名|人|项|所|条|层|位|批|座|份|笔|次)|名额|有几(?:个|家|名|项|所)(?!工作日|月)"
            r"|(?<![哪第好这那前后近])几(?:个(?!工作日|月|小时|季度)|家|名|人|项|所|条|层|位|批|座)"
            r"[^，。？！,?!]{0,4}(?:[？?！!]|$)"
        ),
        re.compile(_NUMBER + r"(?:个|家|名|人|项|所|条|批|座|处|层|位|份|笔|次)"),
    ),
    "duration": (
        re.compile(r"多长时间|多久|几天|多少天|几个工作日|几个月|时限|多少年|(?<![近这前哪])几年"),
        re.compile(_NUMBER + r"个?(?:工作日|天|日|个月|小时|周)|" + _YEARS + r"|时限|期限"),
    ),
    "measure": (
        re.compile(r"多少(?:平方米|平米|平方|亩|公顷|平方公里|吨|千瓦|分)"),
        re.compile(_NUMBER + r"(?:平方米|平米|平方|亩|公顷|平方公里|吨|千瓦|分)"),
    ),
    "date": (
        re.compile(
            r"哪一?天|哪一?年|什么时候|啥时候|何时|几月几[日号]|几号(?!楼|线|文)|几月份|哪个月"
            r"|(?:生效|施行|实施)日期"
        ),
        re.compile(
            r"\d{4}年|\d{1,2}月|[〇零一二三四五六七八九]{4}年|年底|年末|年内|之日|日起|起施行|起实施"
        ),
    ),
    "share": (
        re.compile(r"百分之几|比例|占比|多少%|几成|几折|打折|折扣|几比几|率[^，。？,?]{0,6}多少"),
        re.compile(r"%|百分之|比例|" + _NUMBER + r"成|\d+[:：]\d+"),
    ),
    "person": (
        re.compile(
            r"(?:组长|主任|董事长|局长|书记|负责人|总经理|主席)(?:都|分别)?(?:是|由|有)?(?:谁|哪位)"
            r"|叫什么名字|姓名"
        ),
        re.compile(r"同志|(?:任|担任|兼任)[^,;。]{0,8}?(?:组长|主任|董事长|总经理|召集人|负责人)"),
    ),
    "materials": (
        re.compile(r"(?:哪些|什么|啥)(?:材料|资料|证件|手续)"),
        re.compile(r"材料|资料|证明|证件|复印件|申请表|手续"),
    ),
    # Where to go, write or call: a place's address, a web address, a telephone number. Policy
    # texts name offices, rarely where they sit or how to reach them.
    "address": (
        re.compile(r"地址|在哪里?办公|办公地点|在哪儿办公|哪条路|哪个街道|哪条街|四至"),
        re.compile(r"地址|[路街道]\d+号|\d+号楼|东至|西至|南至|北至"),
    ),
    "web": (
        re.compile(r"网址|网站|链接|在哪里?下载|哪儿下载|怎么登录"),
        re.compile(r"https?:|www\.|网址|网站|\.cn|\.com|下载"),
    ),
    "phone": (
        re.compile(r"热线|电话|联系方式|手机号"),
        re.compile(r"\d{3,4}-?\d{7,8}|\d{5,}|电话|热线"),
    ),
    # A price is an amount per unit: a clause with a total (1000万元) does not state one.
    "price": (
        re.compile(
            r"(?:每|一)个?" + _UNIT + r".{0,8}多少|多少钱一|单价|价格|价钱|租金|电价|水价|气价|地价"
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
    # Which company or institution does a job ("哪家软件公司做的", "是哪几家公司"): only a
    # passage that names one answers, not one that names the job alone.
    "organisation": (
        re.compile(
            r"哪(?:一|几)?家(?:[^，。？,?]{0,4})?(?:公司|企业|机构|银行|单位)|是哪些公司|哪家在"
        ),
        re.compile(r"公司|集团|有限|股份|银行|研究院|协会"),
    ),
    # A document's number (嘉府发〔2017〕24号) is stated only in its heading.
    "number": (
        re.compile(r"文号|发文字号|几号文"),
        re.compile(r"[〔\[【(（]\d{4}[〕\]】)）]\s*\d+\s*号"),
    ),
    "grade": (
        re.compile(r"(?<!哪)几级|什么等级|哪个等级|什么级别|哪个级别"),
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
