"""kb.normalize: the one normalisation used for matching."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.normalize import normalize, to_simplified

ROOT = Path(__file__).resolve().parent.parent

# Han text in both scripts, the punctuation policy documents use, and assorted whitespace.
chinese_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(
            list("（）：，；。、“”〔〕《》——()[]:,;.%０１９ＡａPPP \t\n\u3000\xa0\u200b")
        ),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # full-width ASCII forms fold to ASCII ...
        ("（责任单位：区经委；区财政局，）", "(责任单位:区经委;区财政局,)"),
        ("１０００万元", "1000万元"),
        ("四．（一）．1", "四.(一).1"),
        # ... but CJK punctuation without an ASCII twin stays as it is
        ("一、“三库一平台”。〔2017〕《方案》——", "一、“三库一平台”。〔2017〕《方案》——"),
        # Traditional becomes Simplified
        ("牽頭單位:省商務廳;責任單位:各開發區", "牵头单位:省商务厅;责任单位:各开发区"),
        ("促進全省開發區改革", "促进全省开发区改革"),
        # every kind of whitespace goes, including the ideographic and zero-width ones
        ("省商務廳;\n責任單位", "省商务厅;责任单位"),
        ("a\u3000b\xa0c\u200bd\ufeffe\t f", "abcdef"),
        # case is kept: quotes are verbatim up to script, width and whitespace
        ("ppp项目 PPP项目", "ppp项目PPP项目"),
        ("", ""),
    ],
)
def test_normalize_cases(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("對投資額度在1000萬元以上的非供地類項目", "对投资额度在1000万元以上的非供地类项目"),
        (
            "（牽頭單位：省商務廳；\n責任單位：各市、縣（區）政府）",
            "(牵头单位:省商务厅;责任单位:各市、县(区)政府)",
        ),
        ("實行“產業鏈條圖、技術路線圖”", "实行“产业链条图、技术路线图”"),
    ],
)
def test_both_scripts_normalize_alike(traditional: str, simplified: str) -> None:
    assert normalize(traditional) == normalize(simplified)


def test_to_simplified_only_converts_script() -> None:
    assert to_simplified("（牽頭 單位）") == "（牵头 单位）"


@given(chinese_text)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(chinese_text)
def test_normalize_leaves_no_whitespace(text: str) -> None:
    assert not any(char.isspace() for char in normalize(text))


han_and_punctuation = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("（）：，；。、“”0123456789")),
    ),
    max_size=30,
)


@given(han_and_punctuation, han_and_punctuation)
def test_line_breaks_and_spaces_do_not_matter(left: str, right: str) -> None:
    # Also across t2s phrases: whitespace is dropped before the conversion.
    assert normalize(f"{left} \n\u3000{right}") == normalize(left + right)


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_converter_is_built_lazily_and_once_across_threads() -> None:
    out = _run(
        "import threading, kb.normalize as n\n"
        "print(n._build_t2s.cache_info().currsize)\n"
        "threads = [threading.Thread(target=n.normalize, args=('開發區',)) for _ in range(16)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(n._build_t2s.cache_info().misses)\n"
    )
    assert out.split() == ["0", "1"]
