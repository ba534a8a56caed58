"""The drafters' lexicon (kb.lexicon, policies/lexicon.yaml): it loads from policies/, an entry
a drafter adds changes how a question is expanded and what search finds, a malformed file says
where, a changed lexicon selects a new index (no stale cache), and `zhengce check` names every
problem of the file with its code and place (kb.lexicon_file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.embed import HashEmbedder
from kb.lexicon import Lexicon, LexiconError, Term, load_lexicon
from kb.lexicon_file import LexiconCode, check_lexicon
from kb.search import KnowledgeBase
from tests.conftest import ROOT

LEXICON = ROOT / "policies" / "lexicon.yaml"


def test_the_project_lexicon_loads_from_policies() -> None:
    lexicon = load_lexicon(LEXICON)
    assert len(lexicon.terms) >= 20
    assert "租赁存量厂房" in lexicon.expand("厂房是租來的，要去哪裡審批？").added  # any script
    assert lexicon.expand("報備").added == ("备案",)
    # A slip of the input method for a key term reads as the term (迁头, 签头 for 牵头).
    assert "牵头" in lexicon.expand("任务分解表上是哪个部门签头？").added
    assert "厂房" in lexicon.expand("会不会盖标准化的场房？").added


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


# ---- `zhengce check` on the lexicon (kb.lexicon_file): each bad lexicon gives its code at
# its line; terms compare as search compares them (script, width, case).

DOCUMENTS = ("对投资额度在1000万元以上的非供地类项目，报市园区办进行备案。", "對供地類項目")

CHECK_CASES = [
    # (note, lexicon text, code, line, the text the issue marks: its last one on that line,
    # is an error)
    ("not YAML", "terms: [报备\n", "lexicon_yaml_error", 1, "[", True),
    ("no terms list", "words: []\n", "lexicon_bad_shape", 1, "words", True),
    ("terms is not a list", "terms: 报备\n", "lexicon_bad_shape", 1, "报备", True),
    ("another top-level key", "terms: []\nversion: 2\n", "lexicon_unknown_key", 2, "version", True),
    ("terms twice", "terms: []\nterms: []\n", "lexicon_duplicate_key", 2, "terms", True),
    ("an entry that is a word", "terms:\n  - 报备\n", "lexicon_bad_shape", 2, "报备", True),
    ("no colloquial", "terms:\n  - official: 备案\n", "lexicon_missing_key", 2, "official", True),
    (
        "a misspelt key",
        "terms:\n  - official: 备案\n    colloqial: [报备]\n",
        "lexicon_unknown_key",
        3,
        "colloqial",
        True,
    ),
    (
        "a key twice",
        "terms:\n  - official: 备案\n    colloquial: [报备]\n    colloquial: [报一下]\n",
        "lexicon_duplicate_key",
        4,
        "colloquial",
        True,
    ),
    (
        "a value that is a mapping",
        "terms:\n  - official: 备案\n    colloquial: [报备, {a: b}]\n",
        "lexicon_bad_shape",
        3,
        "{a: b}",
        True,
    ),
    (
        "an empty list",
        "terms:\n  - official: 备案\n    colloquial: []\n",
        "lexicon_empty_term",
        3,
        "[]",
        True,
    ),
    (
        "an empty word",
        "terms:\n  - official: 备案\n    colloquial: [报备, '  ']\n",
        "lexicon_empty_term",
        3,
        "'  '",
        True,
    ),
    (
        "no official",
        "terms:\n  - official: ''\n    colloquial: [报备]\n",
        "lexicon_empty_term",
        2,
        "''",
        True,
    ),
    (
        "a null word",
        "terms:\n  - official: 备案\n    colloquial: [报备, ~]\n",
        "lexicon_empty_term",
        3,
        "~",
        True,
    ),
    (
        "a phrase that is its own official term, in the other script",
        "terms:\n  - official: 备案\n    colloquial: [报备, 備案]\n",
        "lexicon_self_mapping",
        3,
        "備案",
        True,
    ),
    (
        "a phrase in two entries, once Traditional",
        "terms:\n  - official: 备案\n    colloquial: [报备]\n"
        "  - official: 非供地类项目\n    colloquial: [不用拿地, 報備]\n",
        "lexicon_duplicate_colloquial",
        5,
        "報備",
        True,
    ),
    (
        "one character",
        "terms:\n  - official: 供地\n    colloquial: [拿地, 地]\n",
        "lexicon_phrase_too_short",
        3,
        "地",
        True,
    ),
    (
        "two letters",
        "terms:\n  - official: 备案\n    colloquial: [filing, PE]\n",
        "lexicon_phrase_too_short",
        3,
        "PE",
        True,
    ),
    (
        "an official term no document contains",
        "terms:\n  - official: [备案, 许可]\n    colloquial: [permit]\n",
        "lexicon_official_unmatched",
        2,
        "许可",
        False,
    ),
]


@pytest.mark.parametrize(
    ("text", "code", "line", "marked", "is_error"),
    [case[1:] for case in CHECK_CASES],
    ids=[case[0] for case in CHECK_CASES],
)
def test_each_bad_lexicon_gives_its_code_at_its_place(
    tmp_path: Path, text: str, code: str, line: int, marked: str, is_error: bool
) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(text, encoding="utf-8")
    report = check_lexicon(path, DOCUMENTS)
    column = text.splitlines()[line - 1].rindex(marked) + 1 if marked else 1
    found = {(i.code, i.line, i.column): i for i in report.issues}
    place = (LexiconCode(code), line, column)
    assert place in found, report.render()
    issue = found[place]
    assert issue.code.is_error is is_error
    assert not issue.message.isascii()  # Chinese, for the drafter
    assert report.render().startswith(f"{path}:")


def test_a_good_lexicon_has_no_issue_and_case_and_script_do_not_hide_a_term(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        "terms:\n  - official: [非供地類項目, 备案]\n    colloquial: [不用拿地, 报备, filing]\n"
        "  - official: 供地类项目\n    colloquial: [拿地]\n",
        encoding="utf-8",
    )
    assert check_lexicon(path, DOCUMENTS).issues == ()
    assert check_lexicon(tmp_path / "absent.yaml", DOCUMENTS).issues == ()


def test_a_shape_error_stops_search_but_a_content_error_does_not(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text("terms:\n  - official: 供地\n    colloquial: [拿地, 地]\n", "utf-8")
    assert load_lexicon(path).expand("拿地").added == ("供地",)  # check fails, search runs
    path.write_text("terms:\n  - official: 供地\n    colloquial: [拿地]\n    note: x\n", "utf-8")
    with pytest.raises(LexiconError, match="未知的键“note”") as raised:
        load_lexicon(path)
    assert raised.value.line == 4


def test_the_caret_stands_under_the_term_in_terminal_cells(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text("terms:\n  - official: 备案\n    colloquial: [报备, 備案]\n", "utf-8")
    (issue,) = check_lexicon(path, DOCUMENTS).issues
    _, shown, caret = issue.render(path, path.read_text("utf-8")).splitlines()
    assert shown == "    3 |     colloquial: [报备, 備案]"
    # 7 columns of gutter, then "    colloquial: [" (17 cells) and "报备, " (6 cells).
    assert caret == "      | " + " " * 23 + "^^^^"


def test_the_project_lexicon_has_no_error() -> None:
    from kb.corpus import Corpus

    report = check_lexicon(LEXICON, [d.text for d in Corpus(ROOT).documents()])
    assert report.entries == len(load_lexicon(LEXICON).terms)
    # Nor a warning: every official term is one the documents use, so each expansion can
    # find clauses.
    assert report.issues == (), report.render()


def test_check_reports_the_lexicon_after_the_policies_and_fails_on_its_errors(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from server.cli import app
    from server.cli_common import Context
    from server.config import Settings

    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    settings = Settings.from_env({"ZHENGCE_CACHE": str(tmp_path / "cache")}, root=tmp_path)

    def check() -> tuple[int, str]:
        result = CliRunner().invoke(app, ["check"], obj=Context(settings, HashEmbedder()))
        assert "Traceback" not in result.output
        return result.exit_code, " ".join(result.output.split())  # the console wraps lines

    terms = len(load_lexicon(ROOT / "policies" / "lexicon.yaml").terms)
    code, output = check()
    assert code == 0 and f"lexicon.yaml：{terms} 条，错误 0 个，警告 0 个" in output, output
    lexicon = tmp_path / "policies" / "lexicon.yaml"
    lexicon.write_text(
        lexicon.read_text("utf-8").replace(
            "colloquial: [报备, filing]", "colloquial: [报备, 備案]"
        ),
        encoding="utf-8",
    )
    code, output = check()
    assert code == 1
    line = next(
        n for n, text in enumerate(lexicon.read_text("utf-8").splitlines(), 1) if "備案" in text
    )
    assert f"lexicon.yaml:{line}:" in output and "lexicon_self_mapping" in output
    assert f"来源文件 5 个：错误 0 个；lexicon.yaml：{terms} 条，错误 1 个" in output


CONTENT_CODES = {
    LexiconCode.SELF_MAPPING,
    LexiconCode.DUPLICATE_COLLOQUIAL,
    LexiconCode.PHRASE_TOO_SHORT,
    LexiconCode.OFFICIAL_UNMATCHED,
}


def test_no_edit_of_the_lexicon_crashes_the_check_or_the_loader(tmp_path: Path) -> None:
    """Three-character slips (a bracket, a colon, an indent …) anywhere in the real file: the
    check always answers with issues, the loader with a lexicon or a LexiconError."""
    import random

    text = LEXICON.read_text(encoding="utf-8")
    rnd = random.Random(16)
    path = tmp_path / "lexicon.yaml"
    for _ in range(200):
        chars = list(text)
        for _ in range(3):
            chars[rnd.randrange(len(chars))] = rnd.choice("[]{}:-, \n\t\"'#&*!?|>~地")
        path.write_text("".join(chars), encoding="utf-8")
        report = check_lexicon(path, DOCUMENTS)
        rendered = report.render()
        assert all(i.headline(path) in rendered for i in report.issues)
        try:
            load_lexicon(path)
        except LexiconError as e:  # the check names the same problem at the same line
            assert (e.line or 0) in {i.line for i in report.errors}
        else:  # the file has its shape; the check may still find what the entries say wrong
            assert {i.code for i in report.issues} <= CONTENT_CODES
