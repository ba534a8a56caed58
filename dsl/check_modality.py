"""Strength of wording: a rule's strength (`则 原则上 禁止`) against the modal words of its
quotes, and what a discretionary rule may not do. Like the 以上/超过 lint, the wording checks
warn; a discretionary rule that prohibits or requires something is an error."""

from __future__ import annotations

import re
from collections.abc import Callable

from dsl import ast
from dsl.diagnostic_text import advise, diagnostic
from dsl.errors import Diagnostic
from dsl.vocabulary import Code, Strength

# The modal words of each strength, matched in normalised (simplified) quotes. A word must be
# used as a modal, not as part of another word:
# - 原则 alone is mostly the noun "principle" (基本原则, 按照…的原则); it is modal as 原则上 and
#   in 原则同意 / 原则通过 / 原则批准.
# - 一般 is modal before a verb (一般不再供应); 一般性, 一般纳税人, 一般公共预算, 一般工业固废
#   and 一般项目 are nouns.
# - 可 is modal (可, 可以, 可给予); not in 许可, 认可, 不可 (a prohibition), 即可 (suffices),
#   宁可, or 可行(性), 可能, 可持续, 可靠, 可研, 可控, 可视, 可再生, 可比, 可供.
MODAL_WORDS: dict[Strength, re.Pattern[str]] = {
    Strength.PRESUMPTIVE: re.compile(
        r"原则上|原则(?=同意|通过|批准)|一般(?!性|纳税人|公共预算|工业固|项目)"
    ),
    Strength.BY_LAW: re.compile(r"依法|按规定|按照规定|依照规定"),
    Strength.DISCRETIONARY: re.compile(
        r"鼓励|支持|优先|(?<![许认不即宁])可(?!行|能|持续|靠|研|控|视|再生|比|供)"
    ),
}
# Words that make a mandatory rule's reading doubtful: the text may only presume or allow it.
_WEAKER = (Strength.PRESUMPTIVE, Strength.DISCRETIONARY)


def modal_words(strength: Strength, quote: str) -> list[str]:
    """The words of `strength` in a normalised quote, in order, each once."""
    pattern = MODAL_WORDS.get(strength)
    return list(dict.fromkeys(pattern.findall(quote))) if pattern else []


def qualifiers(rule: ast.Rule, normalize: Callable[[str], str]) -> tuple[str, ...]:
    """The text's own words for the rule's strength (原则上, 一般, 依法 …), from its quotes;
    none for a mandatory rule. A decision repeats them beside a qualified outcome."""
    words = [w for c in rule.cites for w in modal_words(rule.strength, normalize(c.quote))]
    return tuple(dict.fromkeys(words))


def check_modality(rule: ast.Rule, normalize: Callable[[str], str]) -> list[Diagnostic]:
    diags = []
    if rule.strength == Strength.DISCRETIONARY and (rule.outcome is not None or rule.steps):
        hint = advise("discretionary")
        if rule.outcome is not None:
            diags.append(
                diagnostic(
                    Code.DISCRETIONARY_REQUIREMENT,
                    rule.name_span,
                    "outcome",
                    rule=rule.name,
                    outcome=rule.outcome,
                    hint=hint,
                )
            )
        else:
            diags.append(
                diagnostic(
                    Code.DISCRETIONARY_REQUIREMENT,
                    rule.name_span,
                    "steps",
                    rule=rule.name,
                    hint=hint,
                )
            )
    if rule.strength == Strength.MANDATORY:
        # The qualifier must reach the reader. An outcome keyword drops it, so a rule with an
        # outcome carries it only as its strength; duties, benefits and notes may repeat it
        # in their own words ("原则上在2018年前全部完成").
        said = (
            ""
            if rule.outcome
            else normalize("".join(rule.obligations + rule.benefits + rule.notes))
        )
        for c in rule.cites:
            quote = normalize(c.quote)
            found = [(s, w) for s in _WEAKER for w in modal_words(s, quote) if w not in said]
            if found:
                strength, word = found[0]
                diags.append(
                    diagnostic(
                        Code.MODALITY_PRESUMPTIVE_WORDING,
                        c.quote_span,
                        rule=rule.name,
                        word=word,
                        strength=strength,
                        hint=advise("write_strength"),
                    )
                )
                break
    elif not qualifiers(rule, normalize):
        diags.append(
            diagnostic(
                Code.MODALITY_MANDATORY_WORDING,
                rule.name_span,
                rule=rule.name,
                strength=rule.strength,
                hint=advise("quote_strength"),
            )
        )
    return diags
