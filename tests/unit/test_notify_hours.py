"""Business hours and closed days as customers read them (notify.hours)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notify import hours
from route.calendar import calendar_from_days, opening_hours
from schemas.codec import decode, encode
from schemas.route_events import OpeningHours, SlaApplied

REF = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def paris(days: dict[str, object], **kw: object) -> OpeningHours:
    cal = calendar_from_days("office", "Europe/Paris", days, **kw)  # type: ignore[arg-type]
    return opening_hours(cal, REF, REF)


@pytest.mark.parametrize(
    ("days", "lang", "expected"),
    [
        ({d: "09:00-18:00" for d in WEEKDAYS}, "fr", "du lundi au vendredi, 9 h – 18 h (CET)"),
        ({d: "09:00-18:00" for d in WEEKDAYS}, "en", "Monday to Friday, 9 am – 6 pm (CET)"),
        ({**{d: ["09:00-12:30", "13:30-18:00"] for d in WEEKDAYS[:4]}, "fri": "09:00-17:00"},
         "fr", "du lundi au jeudi, 9 h – 12 h 30 et 13 h 30 – 18 h ; "
         "le vendredi, 9 h – 17 h (CET)"),
        ({**{d: ["09:00-12:30", "13:30-18:00"] for d in WEEKDAYS[:4]}, "fri": "09:00-17:00"},
         "en", "Monday to Thursday, 9 am – 12:30 pm and 1:30 pm – 6 pm; Friday, 9 am – 5 pm (CET)"),
        ({"sat": "10:00-12:00", "sun": "10:00-12:00"}, "fr",
         "le samedi et le dimanche, 10 h – 12 h (CET)"),
        ({"mon": "00:00-24:00"}, "en", "Monday, all day (CET)"),
    ],
)
def test_weekly_hours_read_like_a_sentence(days: dict[str, object], lang: str,
                                           expected: str) -> None:
    assert hours.weekly_hours(paris(days), lang, None, REF) == expected


def test_hours_move_to_the_customers_zone_across_midnight() -> None:
    h = paris({d: "09:00-18:00" for d in WEEKDAYS})
    # Tokyo is 8 hours ahead of Paris in winter: 17:00 – 02:00 the next day
    text = hours.weekly_hours(h, "en", "Asia/Tokyo", REF)
    assert text == ("Monday, 5 pm – midnight; Tuesday to Friday, midnight – 2 am and 5 pm – "
                    "midnight; Saturday, midnight – 2 am (JST)")


def test_always_open_and_unknown() -> None:
    cal = calendar_from_days("24x7", "UTC", {})
    assert hours.availability(opening_hours(cal, REF, REF), "fr", None, REF) == (
        "Notre équipe est disponible 24 h/24, 7 j/7.")
    assert hours.availability(None, "en", None, REF) == ""


def test_closed_days_are_the_calendars_holidays_up_to_the_due_time() -> None:
    cal = calendar_from_days("office", "Europe/Paris", {d: "09:00-18:00" for d in WEEKDAYS},
                             holidays=(datetime(2026, 12, 24).date(),), holiday_country="FR")
    start = datetime(2026, 12, 23, 15, 0, tzinfo=UTC)
    h = opening_hours(cal, start, datetime(2027, 1, 4, 12, 0, tzinfo=UTC))
    # 24 (closure), 25 (Christmas), 1 January (New Year); weekends are not closures
    assert h.closed_days == ("2026-12-24", "2026-12-25", "2027-01-01")
    assert hours.closures(h, "fr", start) == (
        "Nous sommes fermés le jeudi 24 décembre 2026, le vendredi 25 décembre 2026 et le "
        "vendredi 1er janvier 2027.")
    assert hours.closures(h, "en", datetime(2026, 12, 31, tzinfo=UTC)) == (
        "We are closed on Friday 1 January 2027.")


def test_opening_hours_travel_in_sla_applied_and_the_context() -> None:
    h = paris({d: "09:00-18:00" for d in WEEKDAYS})
    event = SlaApplied(policy="standard", first_response_due=REF, hours=h)
    assert decode(SlaApplied, encode(event)) == event
    assert hours.from_context(hours.to_context(h)) == h
    assert hours.from_context({"weekly": [["x"]]}) is None
    assert hours.from_context("nonsense") is None


@pytest.mark.parametrize(
    ("at", "lang", "expected"),
    [
        (datetime(2026, 12, 7, 12, 0, tzinfo=UTC), "fr", "lundi 7 décembre 2026 à 13 h (CET)"),
        (datetime(2026, 12, 7, 12, 30, tzinfo=UTC), "en", "Monday 7 December 2026, 1:30 pm (CET)"),
        (datetime(2026, 7, 1, 7, 5, tzinfo=UTC), "fr", "mercredi 1er juillet 2026 à 9 h 05 (CEST)"),
        (datetime(2026, 12, 6, 23, 0, tzinfo=UTC), "en", "Monday 7 December 2026, 12 am (CET)"),
    ],
)
def test_due_times(at: datetime, lang: str, expected: str) -> None:
    assert hours.format_when(at, lang, "Europe/Paris") == expected


def test_free_text_hours_in_the_mailbox_are_refused_with_the_way_out() -> None:
    from pydantic import ValidationError

    from notify.settings import MailboxIdentity

    with pytest.raises(ValidationError, match="SLA policy's calendar"):
        MailboxIdentity(address="a@b.example", business_hours="Mon-Fri 09:00-18:00")  # type: ignore[call-arg]
