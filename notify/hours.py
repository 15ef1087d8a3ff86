"""Business hours, closed days and due times as a customer reads them. Pure.

The hours come from the SLA policy's calendar (the ``hours`` of ``sla-applied``), never from
free text, so the promise in an ack and the hours next to it agree. Dates, day and month names
come from Babel (CLDR data, the maintained source of localized calendars); the phrasing around
them (« du lundi au vendredi », "Monday to Friday") is ours, per language, because CLDR has no
pattern for a range of weekdays. Times follow each language's house style: French « 9 h 30 »,
English "9:30 am".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, get_day_names

from schemas.route_events import OpeningHours, OpeningSpan

FALLBACK_LANGUAGE = "en"
DAY_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class _Phrases:
    range3: str  # three or more days in a row
    pair: str
    single: str
    and_: str
    group_sep: str
    midnight: str
    all_day: str
    available: str
    always_open: str
    closed: str
    by: str  # "we will answer by <when>"
    when: str  # "<date> at <time> (<zone>)"


PHRASES: Mapping[str, _Phrases] = {
    "en": _Phrases(
        range3="{first} to {last}", pair="{first} and {last}", single="{day}", and_=" and ",
        group_sep="; ", midnight="midnight", all_day="all day",
        available="Our team is available {hours}.",
        always_open="Our team is available around the clock, every day.",
        closed="We are closed on {days}.",
        by="We will get back to you by {when}.",
        when="{date}, {time} ({zone})",
    ),
    "fr": _Phrases(
        range3="du {first} au {last}", pair="le {first} et le {last}", single="le {day}",
        and_=" et ", group_sep=" ; ", midnight="minuit", all_day="toute la journée",
        available="Notre équipe est disponible {hours}.",
        always_open="Notre équipe est disponible 24 h/24, 7 j/7.",
        closed="Nous sommes fermés le {days}.",
        by="Nous vous répondrons au plus tard le {when}.",
        when="{date} à {time} ({zone})",
    ),
}


def language_of(language: str | None) -> str:
    return language if language is not None and language in PHRASES else FALLBACK_LANGUAGE


def zone_or_utc(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def clock_time(minutes: int, language: str) -> str:
    """570 -> '9 h 30' (fr) / '9:30 am' (en); 1440 -> 'minuit' / 'midnight'."""
    lang = language_of(language)
    if minutes >= DAY_MINUTES:
        return PHRASES[lang].midnight
    hh, mm = divmod(minutes, 60)
    if lang == "fr":
        return f"{hh} h" if mm == 0 else f"{hh} h {mm:02d}"
    if hh == 0 and mm == 0:
        return PHRASES[lang].midnight
    hour12 = hh % 12 or 12
    period = "am" if hh < 12 else "pm"
    return f"{hour12} {period}" if mm == 0 else f"{hour12}:{mm:02d} {period}"


def day_name(weekday: int, language: str) -> str:
    names = get_day_names("wide", locale=language_of(language))
    return str(names[weekday])


def long_date(day: date, language: str) -> str:
    """'Monday 7 December 2026' / 'lundi 7 décembre 2026' (« mardi 1er décembre »)."""
    lang = language_of(language)
    pattern = "EEEE '1er' MMMM y" if lang == "fr" and day.day == 1 else "EEEE d MMMM y"
    return str(format_date(day, pattern, locale=lang))


def format_when(at: datetime, language: str, timezone: str | None) -> str:
    """A due time in the customer's zone: 'Monday 7 December 2026, 1 pm (CET)'."""
    lang = language_of(language)
    zone = zone_or_utc(timezone)
    local = at.astimezone(zone)
    minutes = local.hour * 60 + local.minute
    text = clock_time(minutes, lang) if minutes else ("0 h" if lang == "fr" else "12 am")
    return PHRASES[lang].when.format(
        date=long_date(local.date(), lang), time=text, zone=local.tzname() or zone.key
    )


# ---------------------------------------------------------------------------------------------
# weekly hours


Week = dict[int, tuple[tuple[int, int], ...]]  # weekday -> intervals in minutes, local


def _in_zone(hours: OpeningHours, zone: ZoneInfo, ref: datetime) -> Week:
    """The weekly spans of the calendar's zone moved to ``zone``, on the week of ``ref`` (so
    that a DST difference between the two zones is the one in force at ``ref``)."""
    cal_zone = zone_or_utc(hours.timezone)
    if cal_zone.key == zone.key:
        week: dict[int, list[tuple[int, int]]] = {}
        for s in hours.weekly:
            week.setdefault(s.weekday, []).append((s.start_minute, s.end_minute))
        return {d: tuple(sorted(v)) for d, v in week.items()}
    monday = ref.astimezone(cal_zone).date()
    monday -= timedelta(days=monday.weekday())
    moved: dict[int, list[tuple[int, int]]] = {}
    for s in hours.weekly:
        midnight = datetime.combine(monday + timedelta(days=s.weekday), time(0), tzinfo=cal_zone)
        a = (midnight + timedelta(minutes=s.start_minute)).astimezone(UTC).astimezone(zone)
        b = (midnight + timedelta(minutes=s.end_minute)).astimezone(UTC).astimezone(zone)
        while a < b:  # split at the customer's midnights
            next_midnight = datetime.combine(a.date() + timedelta(days=1), time(0), tzinfo=zone)
            end = min(b, next_midnight)
            start_min = a.hour * 60 + a.minute
            end_min = DAY_MINUTES if end == next_midnight else end.hour * 60 + end.minute
            if end_min > start_min:
                moved.setdefault(a.weekday(), []).append((start_min, end_min))
            a = end
    return {d: tuple(sorted(v)) for d, v in moved.items()}


def _groups(week: Week) -> list[tuple[list[int], tuple[tuple[int, int], ...]]]:
    """Consecutive weekdays with the same hours, Monday first."""
    out: list[tuple[list[int], tuple[tuple[int, int], ...]]] = []
    for wd in range(7):
        spans = week.get(wd, ())
        if not spans:
            continue
        if out and out[-1][1] == spans and out[-1][0][-1] == wd - 1:
            out[-1][0].append(wd)
        else:
            out.append(([wd], spans))
    return out


def _days_phrase(days: Sequence[int], lang: str) -> str:
    p = PHRASES[lang]
    if len(days) >= 3:
        return p.range3.format(first=day_name(days[0], lang), last=day_name(days[-1], lang))
    if len(days) == 2:
        return p.pair.format(first=day_name(days[0], lang), last=day_name(days[1], lang))
    return p.single.format(day=day_name(days[0], lang))


def _spans_phrase(spans: Sequence[tuple[int, int]], lang: str) -> str:
    p = PHRASES[lang]
    if len(spans) == 1 and spans[0] == (0, DAY_MINUTES):
        return p.all_day
    return p.and_.join(f"{clock_time(a, lang)} – {clock_time(b, lang)}" for a, b in spans)


def weekly_hours(hours: OpeningHours, language: str, timezone: str | None, ref: datetime) -> str:
    """'Monday to Friday, 9 am – 6 pm (CET)' / 'du lundi au vendredi, 9 h – 18 h (CET)'."""
    lang = language_of(language)
    zone = zone_or_utc(timezone or hours.timezone)
    groups = _groups(_in_zone(hours, zone, ref))
    if not groups:
        return ""
    text = PHRASES[lang].group_sep.join(
        f"{_days_phrase(days, lang)}, {_spans_phrase(spans, lang)}" for days, spans in groups
    )
    return f"{text} ({ref.astimezone(zone).tzname() or zone.key})"


def availability(hours: OpeningHours | None, language: str, timezone: str | None,
                 ref: datetime) -> str:
    """The sentence about when the team works ('' when no calendar is known)."""
    if hours is None:
        return ""
    lang = language_of(language)
    if hours.always_open:
        return PHRASES[lang].always_open
    text = weekly_hours(hours, lang, timezone, ref)
    return PHRASES[lang].available.format(hours=text) if text else ""


def closures(hours: OpeningHours | None, language: str, after: datetime | None = None) -> str:
    """'We are closed on Thursday 24 December 2026 and Friday 25 December 2026.' — the closed
    days ahead (from ``after``'s date in the calendar's zone) the SLA already counted."""
    if hours is None or not hours.closed_days:
        return ""
    lang = language_of(language)
    since = after.astimezone(zone_or_utc(hours.timezone)).date() if after else None
    days = [date.fromisoformat(d) for d in hours.closed_days]
    days = [d for d in days if since is None or d >= since]
    if not days:
        return ""
    names = [long_date(d, lang) for d in days]
    if lang == "fr":  # « le jeudi 24 et le vendredi 25 »: each day takes its article
        names = names[:1] + [f"le {n}" for n in names[1:]]
    joined = names[0] if len(names) == 1 else (
        ", ".join(names[:-1]) + PHRASES[lang].and_ + names[-1]
    )
    return PHRASES[lang].closed.format(days=joined)


def promise(due: datetime, language: str, timezone: str | None) -> str:
    lang = language_of(language)
    return PHRASES[lang].by.format(when=format_when(due, lang, timezone))


# ---------------------------------------------------------------------------------------------
# in a Notification's context (plain JSON: the outbox carries it as data, not as a record)


def to_context(hours: OpeningHours) -> dict[str, Any]:
    return {
        "calendar": hours.calendar, "timezone": hours.timezone, "always_open": hours.always_open,
        "weekly": [[s.weekday, s.start_minute, s.end_minute] for s in hours.weekly],
        "closed_days": list(hours.closed_days),
    }


def from_context(value: object) -> OpeningHours | None:
    """Back from the context; anything malformed reads as 'no calendar known'."""
    if not isinstance(value, Mapping):
        return None
    try:
        return OpeningHours(
            calendar=str(value.get("calendar", "")),
            timezone=str(value.get("timezone", "UTC")),
            always_open=bool(value.get("always_open", False)),
            weekly=tuple(
                OpeningSpan(weekday=int(w), start_minute=int(a), end_minute=int(b))
                for w, a, b in value.get("weekly", ())
            ),
            closed_days=tuple(str(d) for d in value.get("closed_days", ())),
        )
    except (TypeError, ValueError):
        return None
