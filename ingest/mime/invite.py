"""The readable part of a calendar invite (RFC 5545), for a mail that is nothing else. Pure.

An invite sent on its own (``text/calendar`` as the whole message) has no text part; its
event's SUMMARY and DESCRIPTION are what the sender wrote. The ICS itself stays an attachment.
"""

from __future__ import annotations

import re

CALENDAR_TYPES = frozenset({"text/calendar", "text/x-vcalendar", "application/ics"})

_FOLD = re.compile(r"\r?\n[ \t]")
_ESCAPE = re.compile(r"\\([nN,;\\])")
_MAX_LINES = 2000


def _unescape(value: str) -> str:
    return _ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def invite_text(ics: str) -> str:
    """"SUMMARY\\n\\nDESCRIPTION" of the first event (or to-do), "" when there is neither."""
    fields: dict[str, str] = {}
    in_event = False
    for line in _FOLD.sub("", ics).splitlines()[:_MAX_LINES]:
        upper = line.upper()
        if upper.startswith("BEGIN:") and upper[6:].strip() in ("VEVENT", "VTODO"):
            in_event = True
            continue
        if upper.startswith("END:") and in_event:
            break
        if not in_event or ":" not in line:
            continue
        name, _, value = line.partition(":")
        key = name.split(";", 1)[0].strip().upper()
        if key in ("SUMMARY", "DESCRIPTION") and key not in fields:
            fields[key] = _unescape(value).strip()
    parts = [fields.get("SUMMARY", ""), fields.get("DESCRIPTION", "")]
    return "\n\n".join(p for p in parts if p)
