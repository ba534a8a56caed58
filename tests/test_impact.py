"""`zhengce impact` and the reload's dry run: an edit of a copy of the seed policies (a
threshold, a step, a unit, a new exception) is reported with the projects it changes, grouped
by the rule edit behind them; an unchanged set reports nothing; the dry run changes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dsl.boundary import around, boundary_projects
from dsl.impact import Changed, EditKind, Impact, Replay, Target, replay, summarise
from dsl.load import unresolved_conflicts
from server.app import create_app
from server.cli import app
from server.cli_common import Context
from server.config import Settings
from server.impact import Cases, base_root, projects, side
from server.impact_sources import ImpactInputError
from server.revision import RevisionStore
from server.service import Service
from tests.conftest import EXAMPLE, ROOT, fast_runtime

PINGLIANG = "policies/pingliang-2023.zc"
GOLDEN = Cases(folder=ROOT / "tests" / "golden")
KEY = "test-admin-key"

# A declared exception (例外) that the seed set does not have: 一事一议 projects of 1000万元
# and more go without the filing path of 一事一议非供地备案项目.
EXCEPTION = """
规则 一事一议例外 "一事一议的非供地类项目只走一事一议路径"
  依据 二.4 "经市工业园区(集中区)领导小组研究论证后,提请市政府常务会审定"
  例外 一事一议非供地备案项目 依据 二.4 "需“一事一议”的重大延链强链项目"
  当 项目.事项类型 是 投资项目 且 项目.一事一议 且 项目.用地方式 不是 新增建设用地
    且 项目.投资额 以上 非供地备案门槛
  则 审批
    步骤 "市工业园区(集中区)领导小组" 研究论证
    步骤 市政府常务会 审定
"""

Edit = Callable[[str], str]


def copy_of(folder: Path, edit: Edit | None = None) -> Path:
    """A project root holding a copy of the seed policies, pingliang's file edited."""
    shutil.copytree(ROOT / "policies", folder / "policies")
    if edit is not None:
        path = folder / PINGLIANG
        text = path.read_text("utf-8")
        edited = edit(text)
        assert edited != text, "the edit must change the file"
        path.write_text(edited, "utf-8")
    return folder


def load(root: Path) -> Service:
    return Service.load(Settings.from_env({}, root=root), conflicts=False)


def run(base: Service, new: Service) -> tuple[Replay, Impact]:
    found = projects(new.settings, base, new, GOLDEN)
    replayed = replay(found, side(base), side(new))
    return replayed, summarise(base.policies, new.policies, found, replayed)


def investment(c: Changed) -> float:
    return float(c.project.facts["investment_wan"])


def boundary_values(changed: tuple[Changed, ...]) -> set[float]:
    return {investment(c) for c in changed if c.project.origin == "boundary"}


# ---- the pure parts ------------------------------------------------------------------------


def test_boundary_values_sit_just_below_at_and_just_above() -> None:
    assert around(1000) == (999.9999, 1000.0, 1000.0001)
    # 1亩 in 平方米 falls between two representable values: both are taken
    assert around(2000 / 3) == (666.6665, 666.6666, 666.6667, 666.6668)
    assert around(0) == (0.0, 0.0001)


def test_boundary_projects_cover_both_sides_of_every_threshold(service: Service) -> None:
    found = boundary_projects(service.policies)
    filing = {
        g.label: g.facts.get("investment_wan")
        for g in found
        if g.label.startswith("pingliang-2023/非供地项目备案: ")
    }
    # the witness (the rule fires) is the project at the bound itself, kept once
    assert filing == {
        "pingliang-2023/非供地项目备案: 条件成立": 1000.0,
        "pingliang-2023/非供地项目备案: 投资额 ≥ 1000万元，取 999.9999": 999.9999,
        "pingliang-2023/非供地项目备案: 投资额 ≥ 1000万元，取 1000.0001": 1000.0001,
    }
    assert all(g.facts["region"] and g.date for g in found)


def test_an_unchanged_set_reports_nothing(service: Service, tmp_path: Path) -> None:
    replayed, impact = run(service, load(copy_of(tmp_path)))
    assert impact.edits == () and impact.groups == () and impact.changed == 0
    assert replayed.decided > 200
    assert {origin for origin, _ in impact.origins} == {"boundary", "case", "example", "test"}


# ---- each kind of edit ----------------------------------------------------------------------


def test_a_moved_threshold_changes_the_projects_between_the_bounds(
    service: Service, tmp_path: Path
) -> None:
    new = load(copy_of(tmp_path, lambda t: t.replace("门槛 = 1000万元", "门槛 = 1200万元")))
    replayed, impact = run(service, new)
    groups = {g.edit.key: g for g in impact.groups}
    filing = groups["pingliang-2023/非供地项目备案"]
    assert filing.edit.kind == EditKind.CHANGED
    assert {"condition", "parameters"} <= set(filing.edit.aspects)
    assert ("outcome", filing.count) in filing.fields
    # the boundary projects at the old bound and just below the new one change; those below
    # the old bound and from the new one up do not
    assert boundary_values(replayed.changed) == {1000.0, 1000.0001, 1199.9999}
    assert all(1000 <= investment(c) < 1200 for c in replayed.changed)
    before_after = {
        (c.changes[0].before, c.changes[0].after)
        for c in replayed.changed
        if "pingliang-2023/非供地项目备案" in c.rules
    }
    assert before_after == {(("file",), ("none",))}


@pytest.mark.slow
def test_a_step_edit_changes_the_path_of_that_rule_only(service: Service, tmp_path: Path) -> None:
    old = "    步骤 市园区办 备案\n"
    new = load(copy_of(tmp_path, lambda t: t.replace(old, "    步骤 市人民政府 备案\n", 1)))
    replayed, impact = run(service, new)
    assert [(g.edit.key, g.edit.aspects) for g in impact.groups] == [
        ("pingliang-2023/园区政策制度备案", ("steps",))
    ]
    assert replayed.changed
    for c in replayed.changed:
        assert c.project.facts["subject"] in ("park_policy", "园区政策制度")
        assert [x.field for x in c.changes] == ["steps"]
        assert c.changes[0].after[-1] == "市人民政府 备案"
    assert {c.project.origin for c in replayed.changed} >= {"boundary", "test"}


@pytest.mark.slow
def test_a_unit_edit_moves_the_threshold_by_its_factor(service: Service, tmp_path: Path) -> None:
    # 1000元 is 0.1万元: every non-land project from 0.1万元 up to 1000万元 is now filed
    new = load(copy_of(tmp_path, lambda t: t.replace("门槛 = 1000万元", "门槛 = 1000元")))
    replayed, impact = run(service, new)
    assert "pingliang-2023/非供地项目备案" in {g.edit.key for g in impact.groups}
    assert {0.1, 0.1001, 999.9999} <= boundary_values(replayed.changed)
    assert not {0.0999, 1000.0} & boundary_values(replayed.changed)
    assert all(0.1 <= investment(c) < 1000 for c in replayed.changed)


@pytest.mark.slow
def test_the_same_quantity_in_another_unit_changes_no_decision(
    service: Service, tmp_path: Path
) -> None:
    new = load(copy_of(tmp_path, lambda t: t.replace("门槛 = 1000万元", "门槛 = 0.1亿元")))
    _, impact = run(service, new)
    assert impact.changed == 0 and impact.groups == ()
    edits = {e.key: e.aspects for e in impact.edits}
    assert edits["pingliang-2023/非供地项目备案"] == ("parameters",)


@pytest.mark.slow
def test_a_new_exception_is_reported_with_the_projects_it_takes(
    service: Service, tmp_path: Path
) -> None:
    new = load(copy_of(tmp_path, lambda t: t + EXCEPTION))
    assert unresolved_conflicts(new.policies) == []  # a set the server would accept
    replayed, impact = run(service, new)
    added = [g for g in impact.groups if g.edit.kind == EditKind.ADDED]
    assert [g.edit.key for g in added] == ["pingliang-2023/一事一议例外"]
    assert added[0].edit.target == Target.RULE
    assert [g.edit.key for g in impact.groups] == ["pingliang-2023/一事一议例外"]
    assert replayed.changed
    for c in replayed.changed:
        facts = c.project.facts
        assert facts["one_matter_one_discussion"] is True
        assert investment(c) >= 1000
        assert facts.get("land_use") not in ("new_land", "新增建设用地")  # or unknown
        assert "outcome" not in {x.field for x in c.changes}  # still approved, another path
    assert 1000.0 in boundary_values(replayed.changed)


# ---- the base: a git revision or the served set ---------------------------------------------


def git(root: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository (of its own, in tmp) whose HEAD holds the seed policies."""
    root = copy_of(tmp_path / "repo")
    git(root, "init", "-q")
    git(root, "add", "policies")
    git(root, "commit", "-q", "-m", "seed")
    return root


def impact_cli(root: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    settings = Settings.from_env({}, root=root)
    log = [] if "--log" in args else ["--no-log"]
    result = runner.invoke(app, ["impact", *log, *args], obj=Context(settings))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_the_command_compares_with_head_and_exits_by_what_changed(repository: Path) -> None:
    code, out, _ = impact_cli(repository, "--json")
    assert code == 0, out
    body = json.loads(out)
    assert body["changed"] == 0 and body["base"]["label"].startswith("HEAD (")
    assert body["base"]["revision"] == body["revision"]

    path = repository / PINGLIANG
    path.write_text(path.read_text("utf-8").replace("门槛 = 1000万元", "门槛 = 1200万元"), "utf-8")
    code, out, _ = impact_cli(repository)
    assert code == 1
    assert "pingliang-2023/非供地项目备案" in out and "file → none" in out
    code, out, _ = impact_cli(repository, "--accept", "--json")
    assert code == 0 and json.loads(out)["changed"] > 0


@pytest.mark.slow
def test_bad_input_exits_2_with_a_code_and_a_chinese_message(repository: Path) -> None:
    code, _, err = impact_cli(repository, "--base", "no-such-revision")
    assert code == 2 and "unknown_revision" in err and "基线" in err
    code, _, err = impact_cli(repository, "--log", f"sqlite:///{repository / 'none.db'}")
    assert code == 2 and "unreadable_log" in err and "决定日志" in err
    code, _, err = impact_cli(repository, "--cases", str(repository / "missing"))
    assert code == 2 and "unreadable_cases" in err


def test_the_served_base_is_the_set_a_live_server_keeps(service: Service, tmp_path: Path) -> None:
    root = copy_of(tmp_path / "project")
    with pytest.raises(ImpactInputError) as caught, base_root(root, "served"):
        pass
    assert caught.value.code == "no_served_revision"
    RevisionStore.of_process(root).accept(root, {}, service.policies.revision)
    with base_root(root, "served") as (label, folder):
        assert label == f"served ({service.policies.revision})"
        assert load(folder).policies.revision == service.policies.revision


# ---- the reload's dry run -------------------------------------------------------------------


def test_the_dry_run_reports_and_the_served_revision_stays(tmp_path: Path) -> None:
    root = copy_of(tmp_path / "project")
    runtime = fast_runtime(tmp_path, root, ZHENGCE_ADMIN_KEY=KEY)
    with TestClient(create_app(runtime=runtime)) as c:
        served = c.post("/v1/evaluate", json=EXAMPLE).json()  # 1200万元, filed
        path = root / PINGLIANG
        text = path.read_text("utf-8").replace("门槛 = 1000万元", "门槛 = 2000万元")
        path.write_text(text, "utf-8")
        r = c.post("/v1/admin/reload?dry_run=true", headers={"X-API-Key": KEY})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["base"]["revision"] == served["revision"] != report["revision"]
        assert report["base"]["label"] == f"served ({served['revision']})"
        group = next(g for g in report["groups"] if g["edit"]["key"].endswith("非供地项目备案"))
        logged = [e for e in group["examples"] if e["origin"] == "log"]
        assert [e["label"] for e in logged] == [served["decision_id"]]
        assert logged[0]["changes"][0] == {
            "field": "outcome",
            "before": ["file"],
            "after": ["none"],
        }
        again = c.post("/v1/evaluate", json=EXAMPLE).json()
        assert (again["revision"], again["outcome"]) == (served["revision"], "file")
        assert c.get("/readyz").json()["revision"] == served["revision"]
        refused = c.post("/v1/admin/reload?dry_run=true")
        assert refused.status_code == 401


@pytest.mark.slow
def test_the_command_prints_the_dry_runs_body(repository: Path, tmp_path: Path) -> None:
    """One shape: `zhengce impact --json` against HEAD, the set the server serves, over the
    server's log, is the dry run's body but for the base's label."""
    runtime = fast_runtime(tmp_path, repository, ZHENGCE_ADMIN_KEY=KEY)
    with TestClient(create_app(runtime=runtime)) as c:
        c.post("/v1/evaluate", json=EXAMPLE)
        path = repository / PINGLIANG
        path.write_text(path.read_text("utf-8") + EXCEPTION, "utf-8")
        body = c.post("/v1/admin/reload?dry_run=true", headers={"X-API-Key": KEY}).json()
    code, out, _ = impact_cli(repository, "--json", "--log", runtime.settings.decision_log_url)
    printed = json.loads(out)
    assert code == 1 and printed["changed"] == body["changed"] > 0
    labels = printed["base"].pop("label"), body["base"].pop("label")
    assert labels[0].startswith("HEAD (") and labels[1].startswith("served (")
    assert printed == body
