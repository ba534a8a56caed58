"""`zhengce check` on a source whose metadata (policies/sources/<id>.yaml) is malformed: a
problem at its file, line and column with a Chinese message and a stable code (kb.source_check),
exit status 1, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CJK
from tests.tmp_project import small_project, zhengce

SEED = "pingliang-2023"


def _edit(pattern: str, replacement: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        edited, n = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
        assert n == 1, pattern
        return edited

    return edit


# (note, how the seed's metadata text is changed, code, line, the text the caret marks: the
# last occurrence on that line; "" for column 1)
CASES: list[tuple[str, Callable[[str], str], str, int, str]] = [
    ("unclosed bracket", _edit(r"^title: .*$", "title: [unclosed"), "source_yaml_error", 2, "["),
    (
        "bad indentation",
        _edit(r"^kind: policy$", "kind: policy\n  seed: x"),
        "source_yaml_error",
        10,
        ":",
    ),
    ("a list, not a mapping", lambda text: "- id\n- title\n", "source_bad_shape", 1, "-"),
    ("an empty file", lambda text: "", "source_bad_shape", 1, ""),
    ("a required field missing", _edit(r"^region: .*\n", ""), "source_missing_field", 1, ""),
    ("a misspelt field", _edit(r"^kind:", "knid:"), "source_unknown_field", 9, "knid"),
    (
        "a list where text goes",
        _edit(r"^issuer: .*$", "issuer: [a, b]"),
        "source_bad_value",
        4,
        "[",
    ),
    (
        "a date that does not exist",
        _edit(r"^issued: .*$", "issued: 2023-02-30"),
        "source_bad_value",
        6,
        "2023-02-30",
    ),
    ("an unknown script", _edit(r"^script: .*$", "script: zh-CN"), "source_bad_value", 8, "zh-CN"),
    (
        "an id that is not the file's",
        _edit(r"^id: .*$", "id: other-1"),
        "source_bad_value",
        1,
        "other-1",
    ),
]


@pytest.mark.parametrize(
    ("edit", "code", "line", "marked"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_metadata_is_a_diagnostic_not_a_traceback(
    tmp_path: Path, edit: Callable[[str], str], code: str, line: int, marked: str
) -> None:
    root = small_project(tmp_path)
    meta = root / "policies" / "sources" / f"{SEED}.yaml"
    text = edit(meta.read_text("utf-8"))
    meta.write_text(text, "utf-8")
    result = zhengce(root, "check")
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.exit_code == 1 and "Traceback" not in result.output
    column = text.splitlines()[line - 1].rindex(marked) + 1 if marked else 1
    headline = next(s for s in result.stdout.splitlines() if s.startswith(f"{meta}:"))
    assert headline.startswith(f"{meta}:{line}:{column}: {code}: "), headline
    assert CJK.search(headline.split(f"{code}: ", 1)[1]), headline  # Chinese, for the drafter
    # The one policy cites this source: it is left unchecked, and the summary says so.
    assert "规则文件未检查" in result.stderr and "来源文件 1 个：错误 1 个" in result.stderr


def test_undecodable_metadata_and_text_name_their_file(tmp_path: Path) -> None:
    root = small_project(tmp_path)
    sources = root / "policies" / "sources"
    meta = (sources / f"{SEED}.yaml").read_text("utf-8")
    (sources / "other-1.yaml").write_text(meta.replace(f"id: {SEED}", "id: other-1"), "utf-8")
    (sources / "other-1.txt").write_bytes("一、总则".encode("gbk"))
    (sources / f"{SEED}.yaml").write_bytes("id: 平凉".encode("gbk"))
    result = zhengce(root, "check")
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert f"{sources / SEED}.yaml: source_unreadable: 无法读取" in result.stdout
    assert f"{sources / 'other-1'}.txt: source_unreadable: 无法读取正文" in result.stdout


def test_a_broken_source_no_policy_cites_leaves_the_policies_checked(tmp_path: Path) -> None:
    root = small_project(tmp_path)
    sources = root / "policies" / "sources"
    (sources / "other-1.yaml").write_text("id: other-1\ntitle: [a\n", "utf-8")
    (sources / "other-1.txt").write_text("一、总则\n", "utf-8")
    result = zhengce(root, "check")
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert f"{sources / 'other-1'}.yaml:2:8: source_yaml_error: " in result.stdout
    summary = " ".join(result.stderr.split())
    assert "规则文件 1 个：错误 0 个" in summary and "来源文件 2 个：错误 1 个" in summary
    (sources / "other-1.yaml").unlink()
    result = zhengce(root, "check")
    assert result.exit_code == 0, result.output
