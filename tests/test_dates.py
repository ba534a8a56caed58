"""Evaluation dates: strict YYYY-MM-DD, and today in Asia/Shanghai whatever the machine's zone."""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dsl import dates, policytest
from dsl.dates import BadDate, date_or_today, parse_date, today
from dsl.decide import evaluation_date

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_parse_date() -> None:
    assert parse_date("2023-08-02") == dt.date(2023, 8, 2)
    assert parse_date("2024-02-29") == dt.date(2024, 2, 29)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2023-02-30",  # no such day
        "2023-13-01",
        "20230802",  # fromisoformat takes these on Python 3.11
        "2023-W31-3",
        "2023-08-02T00:00",
        "2023-8-2",
        " 2023-08-02",
        "2023-08-02\n",
        "２０２３-08-02",  # full-width digits
        "yesterday",
    ],
)
def test_bad_dates_are_refused_with_one_error_type(text: str) -> None:
    with pytest.raises(BadDate, match="date must be YYYY-MM-DD") as caught:
        parse_date(text)
    assert isinstance(caught.value, ValueError)  # callers that catch ValueError still work
    assert repr(text) in str(caught.value)


def test_today_is_the_date_in_shanghai() -> None:
    before = dt.datetime.now(SHANGHAI).date()
    found = today()
    after = dt.datetime.now(SHANGHAI).date()
    assert found in (before, after)  # the same unless midnight passed in between


@pytest.mark.parametrize(
    ("utc", "day"),
    [
        (dt.datetime(2024, 1, 1, 15, 59, tzinfo=dt.UTC), dt.date(2024, 1, 1)),
        (dt.datetime(2024, 1, 1, 16, 0, tzinfo=dt.UTC), dt.date(2024, 1, 2)),
        (dt.datetime(2023, 12, 31, 23, 0, tzinfo=dt.UTC), dt.date(2024, 1, 1)),
    ],
)
def test_today_turns_at_midnight_in_shanghai_not_utc(
    monkeypatch: pytest.MonkeyPatch, utc: dt.datetime, day: dt.date
) -> None:
    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Frozen:
            assert tz is not None, "today() must ask for an aware time"
            return cls.fromtimestamp(utc.timestamp(), tz)

    monkeypatch.setattr(dates, "dt", types.SimpleNamespace(datetime=Frozen, date=dt.date))
    assert today() == day


def test_date_or_today() -> None:
    assert date_or_today("2023-01-01") == "2023-01-01"
    assert date_or_today(None) in {
        today().isoformat(),
        dt.datetime.now(SHANGHAI).date().isoformat(),
    }
    assert date_or_today("") == date_or_today(None)
    with pytest.raises(BadDate):
        date_or_today("2023-1-1")


def test_evaluation_date_order() -> None:
    assert evaluation_date({"date": "2022-05-01"}, "2023-01-01") == "2023-01-01"
    assert evaluation_date({"date": "2022-05-01"}, None) == "2022-05-01"
    assert evaluation_date({}, None) == date_or_today(None)
    with pytest.raises(BadDate):
        evaluation_date({}, "20230101")


def test_policy_test_files_refuse_bad_dates(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text('cases:\n  - input: {}\n    date: "2023-02-30"\n    want: {}\n', "utf-8")
    with pytest.raises(policytest.TestFileError, match="case 1: date must be YYYY-MM-DD"):
        policytest.load_cases(case)
    route = tmp_path / "route.yaml"
    route.write_text("routes:\n  - {id: x, region: 甘肃省, date: 20230101, want: {}}\n", "utf-8")
    with pytest.raises(policytest.TestFileError, match="route case 1: date must be YYYY-MM-DD"):
        policytest.load_routes(route)
