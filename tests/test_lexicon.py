"""The drafters' lexicon (kb.lexicon, policies/lexicon.yaml): it loads from policies/, an entry
a drafter adds changes how a question is expanded and what search finds, a malformed file says
where, and a changed lexicon selects a new index (no stale cache)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.embed import HashEmbedder
from kb.lexicon import Lexicon, LexiconError, Term, load_lexicon
from kb.search import KnowledgeBase
from tests.conftest import ROOT

LEXICON = ROOT / "policies" / "lexicon.yaml"


def test_the_project_lexicon_loads_from_policies() -> None:
    lexicon = load_lexicon(LEXICON)
    assert len(lexicon.terms) >= 20
    assert "租赁存量厂房" in lexicon.expand("厂房是租來的，要去哪裡審批？").added  # any script
    assert lexicon.expand("報備").added == ("备案",)


def test_a_new_entry_changes_a_questions_expansion(tmp_path: Path) -> None:
    question = "园区有没有incubator？"
    before = load_lexicon(LEXICON).expand(question)
    assert "孵化基地" not in before.added
    edited = tmp_path / "lexicon.yaml"
    text = LEXICON.read_text(encoding="utf-8")
    edited.write_text(
        text + "  - official: 孵化基地\n    colloquial: [incubator]\n", encoding="utf-8"
    )
    after = load_lexicon(edited).expand(question)
    assert after.added == (*before.added, "孵化基地")
    assert after.matched[-1] == "incubator"
    assert after.dense_text == f"{question}（{'、'.join(after.added)}）"


def test_the_longest_phrase_wins_and_a_said_term_is_not_added_again() -> None:
    lexicon = Lexicon(
        [
            Term(("非供地类项目",), ("不用拿地",)),
            Term(("供地",), ("拿地",)),
            Term(("备案",), ("报备",)),
        ]
    )
    assert lexicon.expand("不用拿地的项目要报备吗").added == ("非供地类项目", "备案")
    assert lexicon.expand("拿地的项目").added == ("供地",)
    assert lexicon.expand("报备还是备案").added == ()  # the question already says it
    assert Lexicon().expand("报备").added == ()


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("terms: [", 1, "不是有效的 YAML"),
        ("words: []\n", 1, "须有“terms”列表"),
        ("terms:\n  - official: 备案\n", 2, "每一条须有且只有"),
        ("terms:\n  - official: 备案\n    colloquial: [报备, {a: b}]\n", 3, "须是词语或词语列表"),
        ("terms:\n  - official: 备案\n    colloquial: []\n", 3, "不能为空"),
    ],
)
def test_a_malformed_lexicon_says_where_and_what(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError, match=problem) as raised:
        load_lexicon(path)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"{path}:{line}: 检索词表有误")


def test_no_file_is_an_empty_lexicon(tmp_path: Path) -> None:
    assert load_lexicon(tmp_path / "absent.yaml").terms == ()
    assert load_lexicon(None).terms == ()


def test_an_entry_finds_a_clause_and_a_changed_lexicon_rebuilds_the_index(
    tmp_path: Path,
) -> None:
    sources = tmp_path / "project" / "policies" / "sources"
    sources.mkdir(parents=True)
    for suffix in (".txt", ".yaml"):
        shutil.copy(ROOT / "policies" / "sources" / f"pingliang-2023{suffix}", sources)
    cache = tmp_path / "cache"
    question = "zombie"  # not a word of 平凉's text
    plain = KnowledgeBase.open(tmp_path / "project", cache, HashEmbedder(), progress=False)
    assert not plain.index.search(question, 3, mode="lexical")
    lexicon = Lexicon([Term(("飞地模式",), ("zombie",))])
    expanded = KnowledgeBase.open(
        tmp_path / "project", cache, HashEmbedder(), progress=False, lexicon=lexicon
    )
    assert expanded.index.built and expanded.index.folder != plain.index.folder
    hit = expanded.search(question, k=1)[0]
    assert (hit.document, hit.clause) == ("pingliang-2023", "二.8")  # 引入飞地模式建设
    assert "飞地模式" in {hit.text[s:e] for s, e in hit.highlights}


def test_search_names_the_line_of_a_malformed_lexicon(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from server.cli import app
    from server.cli_common import Context
    from server.config import Settings

    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    (tmp_path / "policies" / "lexicon.yaml").write_text(
        "terms:\n  - official: 备案\n", encoding="utf-8"
    )
    settings = Settings.from_env({"ZHENGCE_CACHE": str(tmp_path / "cache")}, root=tmp_path)
    result = CliRunner().invoke(
        app, ["search", "报备", "--json"], obj=Context(settings, HashEmbedder())
    )
    assert result.exit_code == 1
    assert "lexicon.yaml:2: 检索词表有误" in result.stderr
    assert "Traceback" not in result.output
