"""Reading the server's answer to ``UID FETCH <set> (BODY.PEEK[] INTERNALDATE)``: pure, no I/O.

imaplib hands the answer over as a list: for each message a pair ``(b'<seq> (<items> BODY[]
{<size>}', <body bytes>)`` followed by the rest of that line (``b')'`` or ``b' <items>)'``),
plus whatever unsolicited updates the server sent in between (``b'<seq> (FLAGS (...))'``).

imapclient's general parser lexes every byte outside the literals in Python, a third of the
CPU of an ingest FETCH loop once imaplib's trace is off. :func:`read_fetched` reads that common
shape with a few regular expressions instead, and hands anything it does not recognise in full
(a body sent as a quoted string or NIL, a second literal, an unknown item, a UID twice) to
imapclient's parser, so correctness never rests on the fast path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_fetch_response

FETCH_ITEMS = "(BODY.PEEK[] INTERNALDATE)"


@dataclass(frozen=True, slots=True)
class FetchedMail:
    uid: int
    raw: bytes
    internal_date: datetime | None


def uid_set(uids: Iterable[int]) -> str:
    """A compact IMAP sequence set: runs of consecutive UIDs as ``first:last``."""
    parts: list[str] = []
    run_start = previous = None
    for uid in sorted(set(uids)):
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if run_start is not None:
            parts.append(_run(run_start, previous))
        run_start = previous = uid
    if run_start is not None:
        parts.append(_run(run_start, previous))
    return ",".join(parts)


def _run(first: int, last: int | None) -> str:
    return str(first) if last in (None, first) else f"{first}:{last}"


def read_fetched(data: Sequence[Any], wanted: Collection[int]) -> list[FetchedMail]:
    """The mails among ``wanted`` in a FETCH answer, in UID order; messages the server
    returned no body for (expunged meanwhile) are left out. Raises imapclient's
    ``ProtocolError`` for an answer neither reader understands."""
    wanted = set(wanted)
    fast = _read_common_shape(data, wanted)
    return fast if fast is not None else _read_any_shape(data, wanted)


# "<seq> (<items before the body> BODY[] {<size>}" at the end of the line before the literal
_HEAD = re.compile(rb"\d+ \((.*)BODY\[\] \{(\d+)\}\Z", re.DOTALL)
# the other items of a message's answer, all of them (FLAGS/MODSEQ may come unasked)
_ITEMS = re.compile(
    rb' *(?:(?:UID (?P<uid>\d+)|INTERNALDATE "(?P<date>[^"\\]*)"|FLAGS \([^(){}"]*\)'
    rb"|MODSEQ \(\d+\)) +)*\Z"
)


def _read_common_shape(data: Sequence[Any], wanted: set[int]) -> list[FetchedMail] | None:
    found: dict[int, FetchedMail] = {}
    i, n = 0, len(data)
    while i < n:
        item = data[i]
        i += 1
        if isinstance(item, bytes):
            upper = item.upper()
            if b"BODY[" in upper or b"INTERNALDATE" in upper:  # a body without a literal
                return None  # (NIL, quoted), or a part of some message's answer
            continue  # an unsolicited update (FLAGS of some message): nothing to ingest
        if not (isinstance(item, tuple) and len(item) == 2 and i < n):
            return None
        (head, body), trailer = item, data[i]
        i += 1
        if not (isinstance(head, bytes) and isinstance(body, bytes)
                and isinstance(trailer, bytes) and trailer.endswith(b")")):
            return None
        first = _HEAD.match(head)
        if first is None or int(first[2]) != len(body):
            return None
        items = _ITEMS.match(first[1] + b" " + trailer[:-1] + b" ")
        if items is None or items["uid"] is None:
            return None
        uid = int(items["uid"])
        if uid in found:
            return None  # two answers for one message: let the general parser merge them
        if uid in wanted:
            date = items["date"]
            found[uid] = FetchedMail(uid, body, None if date is None else internal_date(date))
    return [found[uid] for uid in sorted(found)]


def _read_any_shape(data: Sequence[Any], wanted: set[int]) -> list[FetchedMail]:
    parsed = parse_fetch_response(list(data), False, True)
    out = []
    for uid in sorted(u for u in parsed if u in wanted):
        item = parsed[uid]
        raw = item.get(b"BODY[]")
        if not isinstance(raw, bytes):
            continue  # expunged meanwhile, or an answer without a body
        date = item.get(b"INTERNALDATE")
        aware = isinstance(date, datetime) and date.tzinfo is not None
        out.append(FetchedMail(int(uid), raw, date if aware else None))
    return out


SIZE_ITEMS = "(RFC822.SIZE)"
_UID_ITEM = re.compile(rb"[( ]UID (\d+)[ )]")
_SIZE_ITEM = re.compile(rb"[( ]RFC822\.SIZE (\d+)[ )]")


def read_sizes(data: Sequence[Any], wanted: Collection[int]) -> dict[int, int]:
    """UID -> RFC822.SIZE from the answer to ``UID FETCH <set> (RFC822.SIZE)``; lines without
    both (unsolicited updates) and UIDs not asked for are left out. Never raises."""
    wanted = set(wanted)
    sizes: dict[int, int] = {}
    for line in data:
        if not isinstance(line, bytes):
            continue
        uid, size = _UID_ITEM.search(line), _SIZE_ITEM.search(line)
        if uid is not None and size is not None and int(uid[1]) in wanted:
            sizes[int(uid[1])] = int(size[1])
    return sizes


_MONTHS = {m.encode(): i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
_DATE = re.compile(
    rb"\A ?(\d{1,2})-([A-Z][a-z]{2})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z")
_ZONES: dict[bytes, timezone] = {}


def internal_date(value: bytes) -> datetime | None:
    """An INTERNALDATE (``25-Nov-2026 21:18:45 +0000``) as an aware datetime; None when it is
    not a valid date (the connector then uses its own clock). The usual form is read here,
    any other as imapclient reads it."""
    m = _DATE.match(value)
    month = _MONTHS.get(m[2]) if m else None
    if m is None or month is None:
        return _other_date(value)
    zone = m[7] + m[8] + m[9]
    tz = _ZONES.get(zone)
    if tz is None:
        minutes = int(m[8]) * 60 + int(m[9])
        if minutes >= 24 * 60:
            return _other_date(value)
        tz = timezone(timedelta(minutes=-minutes if m[7] == b"-" else minutes))
        _ZONES[zone] = tz
    try:
        return datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=tz)
    except ValueError:  # 31-Feb, hour 25, ...
        return None


def _other_date(value: bytes) -> datetime | None:
    try:
        date = parse_to_datetime(value, normalise=False)
    except (ValueError, OverflowError):
        return None
    return date if date.tzinfo is not None else None


__all__ = [
    "FETCH_ITEMS",
    "SIZE_ITEMS",
    "FetchedMail",
    "internal_date",
    "read_fetched",
    "read_sizes",
    "uid_set",
]
