"""Times as the log stores them, and the moderator's ways of naming a moment ("7d", "2025-01-31")."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

_RELATIVE = re.compile(r"(?P<count>[0-9]{1,5})\s*(?P<unit>[hdw])", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
ALL_TIME = ("", "all", "ever", "all time")


class PeriodError(ValueError):
    """A date or period the moderator typed could not be understood; the message says how to write it."""


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """'2025-01-31T09:30:00.000Z', the log's sortable UTC text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Inverse of iso()."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_when(text: str | None, *, now: datetime | None = None, end: bool = False) -> datetime | None:
    """A moment from '7d'/'12h'/'2w' ago, 'YYYY-MM-DD' (its start; its end with end=True) or ISO; None: all time."""
    value = (text or "").strip().lower()
    if value in ALL_TIME:
        return None
    now = now or utc_now()
    if value == "now":
        return now
    if value == "today":
        midnight = datetime.combine(now.astimezone(timezone.utc).date(), time.min, timezone.utc)
        return midnight + timedelta(days=1) if end else midnight
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - int(relative["count"]) * _UNITS[relative["unit"].lower()]
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time.min, timezone.utc)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(
            f"I couldn't read {text!r} as a date: use YYYY-MM-DD (e.g. 2025-01-31) or 7d, 12h, 2w."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def window(since: str | None, until: str | None, *, now: datetime | None = None) -> tuple[str | None, str | None]:
    """The [since, until) range as log timestamps; an end date is inclusive of its whole day."""
    now = now or utc_now()
    start = parse_when(since, now=now)
    stop = parse_when(until, now=now, end=True)
    if start is not None and stop is not None and start >= stop:
        raise PeriodError("The start must come before the end.")
    return (iso(start) if start else None), (iso(stop) if stop else None)
