"""Evaluation dates: read strictly as YYYY-MM-DD, and "today" as it is where the policies
apply, whatever the server's own time zone."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

# fromisoformat alone would also take 20230801 and 2023-W31-2.
_YYYY_MM_DD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadDate(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(f"date must be YYYY-MM-DD, got {text!r}")


def parse_date(text: str) -> dt.date:
    """The calendar date `text` names; BadDate for any other shape or a day that does not
    exist (2023-02-30)."""
    if not _YYYY_MM_DD.fullmatch(text):
        raise BadDate(text)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadDate(text) from None


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def date_or_today(text: str | None) -> str:
    """`text` checked (BadDate) or, when absent or empty, today; as YYYY-MM-DD."""
    return (parse_date(text) if text else today()).isoformat()
