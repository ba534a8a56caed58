"""The impact replay on Dask distributed agrees with the in-process replay: 10,000 generated
projects, an edited set shipped as text to a small local cluster (two workers, threads of this
process), decided there partition by partition and merged into the same report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsl.boundary import palette
from dsl.impact import Replay, replay, summarise
from server import views
from server.config import Settings
from server.impact import side
from server.impact_dask import LOCAL, Draw, SetText, client, replay_on
from server.results import ImpactResult
from server.service import Service
from tests.conftest import ROOT

PROJECTS = 10_000
PART = 1_000
# The interpreter: the fastest evaluator the service offers here, and the same on both sides.
ENGINE = "interpret"


@pytest.mark.slow
def test_the_dask_replay_agrees_with_the_in_process_replay(
    service: Service, tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    path = tmp_path / "policies" / "pingliang-2023.zc"
    path.write_text(path.read_text("utf-8").replace("门槛 = 1000万元", "门槛 = 1200万元"), "utf-8")
    new = Service.load(Settings.from_env({}, root=tmp_path), conflicts=False)
    colours = palette([service.policies, new.policies])
    parts = [Draw(colours, start, PART, seed=7) for start in range(0, PROJECTS, PART)]
    projects = [p for part in parts for p in part.projects()]

    here = replay(projects, side(service, ENGINE), side(new, ENGINE))
    with client(LOCAL, workers=2, processes=False) as dask:
        there = replay_on(dask, SetText.of(service), SetText.of(new), parts, ENGINE)

    assert (there.decided, there.invalid) == (here.decided, here.invalid)
    assert here.decided + here.invalid == PROJECTS
    assert there.changed == here.changed and here.changed  # the edit changes some decisions
    assert [c.project.facts for c in there.changed] == [c.project.facts for c in here.changed]

    def report(found: Replay) -> object:
        impact = summarise(service.policies, new.policies, projects, found)
        return views.plain(views.impact(ImpactResult("HEAD", impact, "")))

    assert report(there) == report(here)
