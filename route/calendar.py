"""Business-hours calendars: working intervals per weekday in a time zone, minus holidays.

Pure arithmetic over aware datetimes. Local wall-clock intervals are turned into UTC instants
day by day, so a DST change shortens or lengthens that day's business time exactly as a clock on
the office wall would (Europe/Paris loses an hour on the last Sunday of March).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_tables

from schemas.route_events import OpeningHours, OpeningSpan

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZERO = timedelta(0)
# How far ahead a due time is searched before the calendar is called unworkable.
MAX_SEARCH_DAYS = 3 * 366

Interval = tuple[int, int]  # minutes from local midnight, end exclusive; 24:00 == 1440


def parse_clock(text: str) -> int:
    """'09:30' -> 570 minutes; '24:00' is the end of the day."""
    hh, _, mm = text.strip().partition(":")
    minutes = int(hh) * 60 + int(mm or "0")
    if not 0 <= minutes <= 1440:
        raise ValueError(f"time of day out of range: {text!r}")
    return minutes


def parse_interval(text: str) -> Interval:
    """'09:00-17:00' -> (540, 1020)."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"expected HH:MM-HH:MM, got {text!r}")
    interval = (parse_clock(start), parse_clock(end))
    if interval[0] >= interval[1]:
        raise ValueError(f"interval ends before it starts: {text!r}")
    return interval


@functools.lru_cache(maxsize=256)
def public_holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """The public holidays of a country (and subdivision) in a year, from `holidays`."""
    return frozenset(holiday_tables.country_holidays(country, subdiv=subdiv, years=year))


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When the clock runs. ``always_open`` calendars count every second (24x7)."""

    name: str = "24x7"
    timezone: str = "UTC"
    hours: Mapping[int, tuple[Interval, ...]] = field(default_factory=dict)  # weekday 0=mon
    holidays: frozenset[date] = frozenset()
    holiday_country: str | None = None
    holiday_subdiv: str | None = None
    always_open: bool = True

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone
        if not self.always_open and not any(self.hours.values()):
            raise ValueError(f"calendar {self.name!r} has no working hours")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        if self.holiday_country:
            return day in public_holidays(self.holiday_country, self.holiday_subdiv, day.year)
        return False

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The business intervals of one local day, as UTC instants."""
        if self.is_holiday(day):
            return []
        zone = self.zone
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        out = []
        for start, end in self.hours.get(day.weekday(), ()):
            # wall-clock arithmetic on the local midnight, then resolve the offset
            a = (midnight + timedelta(minutes=start)).astimezone(UTC)
            b = (midnight + timedelta(minutes=end)).astimezone(UTC)
            if b > a:
                out.append((a, b))
        return out

    def is_open(self, at: datetime) -> bool:
        if self.always_open and not self._has_closures():
            return True
        day = at.astimezone(self.zone).date()
        if self.always_open:
            return not self.is_holiday(day)
        return any(a <= at < b for a, b in self.intervals_on(day))

    def _has_closures(self) -> bool:
        return bool(self.holidays or self.holiday_country)

    def _days_from(self, at: datetime) -> Iterator[date]:
        first = at.astimezone(self.zone).date() - timedelta(days=1)
        return (first + timedelta(days=i) for i in range(MAX_SEARCH_DAYS))

    def _all_day(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.is_holiday(day):
            return []
        zone = self.zone
        a = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return [(a, b)]

    def _segments(self, day: date) -> list[tuple[datetime, datetime]]:
        return self._all_day(day) if self.always_open else self.intervals_on(day)


TWENTY_FOUR_SEVEN = BusinessCalendar()


def add_business_time(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The instant at which ``duration`` of business time has passed since ``start``."""
    if duration <= ZERO:
        return start
    if cal.always_open and not cal._has_closures():
        return start + duration
    remaining = duration
    for day in cal._days_from(start):
        for a, b in cal._segments(day):
            if b <= start:
                continue
            seg_start = max(a, start)
            available = b - seg_start
            if remaining <= available:
                return (seg_start + remaining).astimezone(start.tzinfo)
            remaining -= available
    raise ValueError(f"calendar {cal.name!r}: no business time within {MAX_SEARCH_DAYS} days")


def business_time_between(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Business time elapsed from ``start`` to ``end`` (zero if ``end`` is not later)."""
    if end <= start:
        return ZERO
    if cal.always_open and not cal._has_closures():
        return end - start
    total = ZERO
    for day in cal._days_from(start):
        segments = cal._segments(day)
        for a, b in segments:
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += hi - lo
        if datetime.combine(day, time(0), tzinfo=cal.zone) > end:
            break
    return total


def calendar_from_days(
    name: str,
    timezone: str,
    days: Mapping[str, list[str] | tuple[str, ...] | str],
    holidays: tuple[date, ...] = (),
    holiday_country: str | None = None,
    holiday_subdiv: str | None = None,
) -> BusinessCalendar:
    """Build a calendar from config: ``{"mon": ["09:00-12:00", "13:00-17:00"], ...}``."""
    hours: dict[int, tuple[Interval, ...]] = {}
    for key, spans in days.items():
        wd = WEEKDAYS.index(key.strip().lower()[:3])
        texts = [spans] if isinstance(spans, str) else list(spans)
        hours[wd] = tuple(sorted(parse_interval(t) for t in texts))
    return BusinessCalendar(
        name=name,
        timezone=timezone,
        hours=hours,
        holidays=frozenset(holidays),
        holiday_country=holiday_country,
        holiday_subdiv=holiday_subdiv,
        always_open=not hours,
    )


# How many days of closures an ack may mention at most, whatever the due time.
MAX_CLOSURE_DAYS = 62


def opening_hours(cal: BusinessCalendar, start: datetime, until: datetime | None) -> OpeningHours:
    """The calendar as a customer is told it: weekly hours and the closed days (holidays)
    that fall between ``start`` and ``until`` (the due time the customer is promised)."""
    if cal.always_open and not cal._has_closures():
        return OpeningHours(calendar=cal.name, timezone=cal.timezone, always_open=True)
    first = start.astimezone(cal.zone).date()
    last = (until or start).astimezone(cal.zone).date()
    last = min(last, first + timedelta(days=MAX_CLOSURE_DAYS))
    closed = []
    day = first
    while day <= last:
        # only days the office would otherwise work count as closures worth telling
        if cal.is_holiday(day) and (cal.always_open or cal.hours.get(day.weekday())):
            closed.append(day.isoformat())
        day += timedelta(days=1)
    weekly = tuple(
        OpeningSpan(weekday=wd, start_minute=a, end_minute=b)
        for wd in sorted(cal.hours)
        for a, b in cal.hours[wd]
    )
    return OpeningHours(
        calendar=cal.name, timezone=cal.timezone, always_open=cal.always_open, weekly=weekly,
        closed_days=tuple(closed),
    )
