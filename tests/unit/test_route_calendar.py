"""Business-hours arithmetic with a fake clock: weekends, lunch breaks, DST, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from route.calendar import (
    TWENTY_FOUR_SEVEN,
    add_business_time,
    business_time_between,
    calendar_from_days,
)

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = calendar_from_days("paris-office", "Europe/Paris", WEEKDAYS)
ALL_DAY = calendar_from_days("paris-24", "Europe/Paris", {d: "00:00-24:00" for d in
                                                          ("mon", "tue", "wed", "thu", "fri",
                                                           "sat", "sun")})


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def test_24x7_is_plain_addition() -> None:
    start = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert add_business_time(TWENTY_FOUR_SEVEN, start, timedelta(hours=5)) == start + timedelta(
        hours=5)


def test_within_one_day() -> None:
    assert add_business_time(OFFICE, paris(2026, 3, 2, 10), timedelta(hours=3)) == paris(
        2026, 3, 2, 13)


def test_before_opening_starts_at_opening() -> None:
    assert add_business_time(OFFICE, paris(2026, 3, 2, 6), timedelta(hours=1)) == paris(
        2026, 3, 2, 10)


def test_friday_evening_rolls_over_weekend_and_dst() -> None:
    # Friday 27 March 2026 is in CET, Monday 30 March in CEST (DST began Sunday 29 March).
    due = add_business_time(OFFICE, paris(2026, 3, 27, 16), timedelta(hours=2))
    assert due == paris(2026, 3, 30, 10)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, tzinfo=UTC)


def test_lunch_break_is_not_counted() -> None:
    cal = calendar_from_days("lunch", "Europe/Paris",
                             {"mon": ["09:00-12:00", "13:00-17:00"]})
    assert add_business_time(cal, paris(2026, 3, 2, 11), timedelta(hours=2)) == paris(
        2026, 3, 2, 14)


def test_spring_forward_day_has_23_business_hours() -> None:
    start = paris(2026, 3, 29, 0)
    assert business_time_between(ALL_DAY, start, paris(2026, 3, 30, 0)) == timedelta(hours=23)
    assert add_business_time(ALL_DAY, start, timedelta(hours=24)) == paris(2026, 3, 30, 1)


def test_fall_back_day_has_25_business_hours() -> None:
    start = paris(2026, 10, 25, 0)
    assert business_time_between(ALL_DAY, start, paris(2026, 10, 26, 0)) == timedelta(hours=25)
    assert add_business_time(ALL_DAY, start, timedelta(hours=24)) == paris(2026, 10, 25, 23)


def test_public_holiday_from_country_is_skipped() -> None:
    cal = calendar_from_days("fr", "Europe/Paris", WEEKDAYS, holiday_country="FR")
    # Friday 1 May 2026 is Labour Day in France
    assert add_business_time(cal, paris(2026, 4, 30, 16), timedelta(hours=2)) == paris(
        2026, 5, 4, 10)
    assert not cal.is_open(paris(2026, 5, 1, 10))
    assert cal.is_open(paris(2026, 5, 4, 10))


def test_explicit_holiday_dates_are_skipped() -> None:
    cal = calendar_from_days("office", "Europe/Paris", WEEKDAYS, holidays=(date(2026, 3, 3),))
    assert add_business_time(cal, paris(2026, 3, 2, 16), timedelta(hours=2)) == paris(
        2026, 3, 4, 10)


def test_subdivision_holiday() -> None:
    cal = calendar_from_days("by", "Europe/Berlin", WEEKDAYS, holiday_country="DE",
                             holiday_subdiv="BY")
    berlin = ZoneInfo("Europe/Berlin")
    # 6 January (Epiphany) is a holiday in Bavaria; 2026-01-06 is a Tuesday
    assert not cal.is_open(datetime(2026, 1, 6, 10, tzinfo=berlin))


def test_24x7_with_holidays_closes_on_holidays() -> None:
    cal = calendar_from_days("fr247", "Europe/Paris", {}, holiday_country="FR")
    assert not cal.is_open(paris(2026, 5, 1, 10))
    assert add_business_time(cal, paris(2026, 4, 30, 23), timedelta(hours=2)) == paris(
        2026, 5, 2, 1)


def test_calendar_without_hours_is_rejected() -> None:
    from route.calendar import BusinessCalendar

    with pytest.raises(ValueError):
        BusinessCalendar(name="never", always_open=False)
    with pytest.raises(ValueError):
        calendar_from_days("bad", "Europe/Paris", {"mon": "17:00-09:00"})


def test_zero_duration_is_start() -> None:
    start = paris(2026, 3, 1, 3)
    assert add_business_time(OFFICE, start, timedelta(0)) == start


starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31),
                      timezones=st.just(UTC))
durations = st.integers(min_value=1, max_value=60 * 200).map(lambda m: timedelta(minutes=m))
calendars = st.sampled_from([OFFICE, ALL_DAY, calendar_from_days(
    "fr", "Europe/Paris", {"mon": ["08:00-12:00", "14:00-18:30"], "sat": "10:00-13:00"},
    holiday_country="FR")])


@settings(max_examples=150, deadline=None)
@given(cal=calendars, start=starts, duration=durations)
def test_business_time_between_inverts_add(cal, start, duration) -> None:  # type: ignore[no-untyped-def]
    due = add_business_time(cal, start, duration)
    assert business_time_between(cal, start, due) == duration


@settings(max_examples=150, deadline=None)
@given(cal=calendars, a=starts, b=starts, duration=durations)
def test_due_time_is_monotonic_in_start(cal, a, b, duration) -> None:  # type: ignore[no-untyped-def]
    early, late = sorted((a, b))
    assert add_business_time(cal, early, duration) <= add_business_time(cal, late, duration)
