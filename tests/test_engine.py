"""The durable-rules engine in a fresh process: a crash path measured on this machine."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

# A one-rule policy set, so that a project can match no durable rule at all.
FRESH_PROCESS = textwrap.dedent(
    """
    import tempfile
    from pathlib import Path
    from dsl.compile import ReteEngine
    from dsl.load import load_files
    from kb.normalize import normalize

    class Source:
        def has_document(self, d): return d == "doc"
        def clause_ids(self, d): return ["一"]
        def resolve_clause(self, d, c): return c if c == "一" else None
        def nearest_clauses(self, d, c): return []
        def clause_text(self, d, c): return "重大项目报区经委备案" if c == "一" else None
        def normalize(self, t): return normalize(t)
        def document_region(self, d): return "甘肃省"
        def document_provenance(self, d): return None

    folder = Path(tempfile.mkdtemp())
    policy = folder / "p.zc"
    policy.write_text('政策 p {{ 来源 doc 地区 "甘肃省" 施行 2020-01-01 }}\\n'
                      '规则 r 依据 一 "重大项目" 当 项目.重大项目 则 备案 步骤 区经委 备案\\n')
    schema = Path({root!r}) / "policies" / "schema.zc"
    policies = load_files([schema, policy], schema, Source()).policies
    engine = ReteEngine(policies)
    for major in {sequence!r}:
        facts, _ = policies.schema.validate({{"region": "甘肃省", "major": major}})
        print(sorted(engine.fire(facts, ["p"]).definite))
    """
)


def run_fresh(sequence: list[bool]) -> subprocess.CompletedProcess[str]:
    code = FRESH_PROCESS.format(root=str(ROOT), sequence=sequence)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_first_fact_matching_no_rule_does_not_crash() -> None:
    """durable-rules segfaults in delete_state after an unhandled first fact; the sentinel
    rule keeps every fact handled."""
    done = run_fresh([False, True, False])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["[]", "['p/r']", "[]"]


RAW_DURABLE = textwrap.dedent(
    """
    from durable import engine
    host = engine.Host()
    host.set_rulesets({"t": {"r": {"all": [{"m": {"a": 1}}], "run": lambda c: None}}})
    try:
        host.assert_fact("t", {"sid": "s0", "a": 0})
    except engine.MessageNotHandledException:
        pass
    host.delete_state("t", "s0")
    """
)


def test_durable_rules_still_crashes_on_an_unhandled_first_fact() -> None:
    """Why dsl/compile.py keeps a sentinel rule: raw durable-rules 2.0.28 segfaults here.
    If this starts passing cleanly, the dependency changed and the sentinel can be reviewed."""
    done = subprocess.run(
        [sys.executable, "-c", RAW_DURABLE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -11  # SIGSEGV
