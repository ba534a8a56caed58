"""The command line as a user meets it: JSON shapes, exit codes, and clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server.cli import app
from tests.conftest import ROOT

RUNNER = CliRunner()
DECISION_KEYS = {
    "outcome",
    "steps",
    "obligations",
    "notes",
    "rules",
    "why_not",
    "citations",
    "parameters",
    "revision",
    "date",
}


@pytest.fixture(autouse=True)
def _root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHENGCE_ROOT", str(ROOT))


def invoke(*args: str) -> tuple[int, str]:
    result = RUNNER.invoke(app, list(args))
    return result.exit_code, result.output


def test_eval_json_has_the_documented_keys() -> None:
    # Without --explain: related clauses would open the search index (tests/test_views.py).
    code, output = invoke("eval", str(ROOT / "policies/examples/pingliang-non-land.json"), "--json")
    assert code == 0
    data = json.loads(output)
    assert set(data) >= DECISION_KEYS
    assert data["outcome"] == "file" and data["date"] == "2024-03-01"
    assert data["steps"][-1] == {
        "authority": "市园区办",
        "authority_id": "authority:65f3083db98a",  # sha256 of the text: the same everywhere
        "action": "备案",
        "action_id": "action:71942f7519d5",
        "basis": [
            {
                "rule": "pingliang-2023/非供地项目备案",
                "document": "pingliang-2023",
                "clause": "二.4",
            }
        ],
    }
    keys = {"policy", "document", "doc_number", "clause", "quote", "text", "quote_at"}
    assert keys | {"provenance", "backs"} == set(data["citations"][0])
    assert data["citations"][0]["backs"] == ["pingliang-2023/非供地项目备案"]
    assert data["decision_id"] is None and data["why_not"] == [] and data["related"] == []
    assert data["parameters"][0]["unspecified"] is False


def test_eval_date_option_overrides_the_file(tmp_path: Path) -> None:
    code, output = invoke(
        "eval",
        str(ROOT / "policies/examples/pingliang-non-land.json"),
        "--json",
        "--date",
        "2023-01-01",
    )
    # 平凉's policy applies from 2023-08-02: before it, the region is not covered.
    decision = json.loads(output)
    assert code == 0 and decision["outcome"] == "not_covered" and "2023-08-02" in decision["reason"]


def test_eval_human_output_and_engines_agree() -> None:
    path = str(ROOT / "policies/examples/pingliang-non-land.json")
    engines = ("compiled", "rete", "interpret")
    outputs = [invoke("eval", path, "--json", "--engine", e)[1] for e in engines]
    assert outputs[0] == outputs[1] == outputs[2]
    code, text = invoke("eval", path, "--explain")
    assert code == 0 and "备案 file" in text and "why not" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"region": "甘肃省/平凉市", "colour": "red"}', "unknown_field"),
        ('{"region": "甘肃省/平凉市", "investment_wan": "many"}', "wrong_type"),
    ],
)
def test_eval_bad_input_is_a_message_not_a_traceback(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(content, "utf-8")
    code, output = invoke("eval", str(path))
    assert code == 1
    assert message in output and "Traceback" not in output


def test_eval_missing_file() -> None:
    code, output = invoke("eval", "/nonexistent/p.json")
    assert code == 2 and "cannot read" in output


def test_route_by_id() -> None:
    code, output = invoke("route", "重大事项包抓", "--region", "甘肃省/平凉市/崆峒区", "--json")
    assert code == 0
    data = json.loads(output)["match"]
    assert data["lead"] == ["市园区办"]
    # 二.5's subject is 市园区办; the units it 协调 assist, they are not responsible.
    assert data["assisting"] == ["有关县(市、区)", "领导小组成员单位"]
    assert data["citations"][0]["clause"] == "二.5"
    assert data["score"] is None  # named by its id: nothing was matched


def test_route_unknown_lists_candidates() -> None:
    code, output = invoke("route", "pingliang-2023/不存在", "--region", "甘肃省/平凉市")
    assert code == 1 and "pingliang-2023/园区日常协调" in output


def test_route_outside_region() -> None:
    code, output = invoke("route", "重大事项包抓", "--region", "江西省")
    assert code == 1 and "no routing rules are in force for 江西省" in output


def test_coverage_json() -> None:
    code, output = invoke("coverage", "--json")
    assert code == 0
    documents = json.loads(output)["documents"]
    pingliang = next(d for d in documents if d["document"] == "pingliang-2023")
    status = {c["clause"]: c["status"] for c in pingliang["clauses"]}
    assert (
        status["二.4"] == "encoded" and status["二.8"] == "skipped" and status["二"] == "by_parts"
    )


def test_policy_tests_command() -> None:
    code, output = invoke("test")
    assert code == 0 and "0 failed" in output
    exercised = re.search(r"coverage: (\d+)/(\d+) rules and routes", output)
    assert exercised is not None and exercised.group(1) == exercised.group(2)


def test_fmt_check_on_canonical_files() -> None:
    code, output = invoke("fmt", "--check")
    assert code == 0, output


def test_fmt_reports_a_file_it_cannot_parse(tmp_path: Path) -> None:
    path = tmp_path / "bad.zc"
    path.write_text("规则 x 则", "utf-8")
    code, output = invoke("fmt", str(path))
    assert code == 1 and "bad.zc:1:" in output
    assert path.read_text("utf-8") == "规则 x 则"  # left as it was


def test_kb_show() -> None:
    code, output = invoke("kb", "show", "pingliang-2023", "二.4")
    assert code == 0 and "1000万元以上" in output
    code, output = invoke("kb", "show", "nowhere")
    assert code == 1 and "pingliang-2023" in output


def test_free_text_route_with_nothing_in_force_says_why() -> None:
    code, output = invoke(
        "route", "化工园区清理整顿由谁牵头", "--region", "江西省", "--date", "2021-01-01"
    )
    assert code == 1 and "no routing rules are in force for 江西省 on 2021-01-01" in output
