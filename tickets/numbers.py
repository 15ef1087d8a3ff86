"""Deterministic identifiers: ticket ids, event ids, notification ids and ticket numbers. Pure.

Ticket id
    ``t`` + 16 hex digits of SHA-256 over the helpline message id that opened the ticket. A
    message opens at most one ticket (dedupe), so a replay or a redelivery yields the same id.

Event id
    hash of (ticket id, cause, kind): the cause is the message id, command id or event id that
    led to the event, so the same cause never produces two different events.

Ticket number (``HL-2026-000123``)
    Humans want short, increasing numbers, but a single global counter is not replay-stable
    when several partitions of ``messages`` are processed independently (their interleaving
    differs per run). So the number is a *per-partition* sequence, interleaved over a fixed
    stride: the n-th ticket opened from partition ``p`` gets ``n * stride + p + 1``. Each
    partition's messages are processed in offset order by one consumer, so replaying the log
    from zero allocates the same numbers; the counter itself is not stored but folded back
    from the numbers in the ticket state table (see :func:`parse`). Numbers stay unique
    across partitions by construction. The year is the creation year, for readability only.
    Hashing the ticket id into six digits was rejected: collisions start around 1,000 tickets.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from schemas.builders import constructor

_SEP = "\x1f"
# Bounded memo of pure functions the intake calls for every message: the same few prefixes,
# and the same senders' addresses message after message.
PATTERN_CACHE_SIZE = 16
CUSTOMER_ID_CACHE_SIZE = 65_536
_NUMBER = re.compile(r"^([A-Z][A-Z0-9]{0,9})-(\d{4})-(\d{3,12})$")


def _digest(*parts: str) -> str:
    return hashlib.sha256(_SEP.join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def ticket_id_for(message_id: str) -> str:
    """The id of the ticket a message opens (lower-case letters and digits only)."""
    return "t" + _digest("ticket", message_id)[:16]


def event_id(ticket_id: str, cause: str, kind: str) -> str:
    return "e" + _digest(ticket_id, cause, kind)[:24]


def notification_id(ticket_id: str, cause: str, kind: str) -> str:
    return "n" + _digest("notification", ticket_id, cause, kind)[:24]


@lru_cache(maxsize=CUSTOMER_ID_CACHE_SIZE)
def customer_id_for(kind: str, value: str) -> str:
    """A customer first seen under ``kind`` (email / visitor / identifier) = ``value``."""
    return "c" + _digest("customer", kind, value.strip().lower())[:16]


@dataclass(frozen=True, slots=True)
class TicketNumber:
    prefix: str
    year: int
    sequence: int  # the number's integer part, >= 1

    def partition_slot(self, stride: int) -> tuple[int, int]:
        """(partition, per-partition index) this number was allocated from."""
        return (self.sequence - 1) % stride, (self.sequence - 1) // stride


def format_number(prefix: str, year: int, sequence: int, digits: int) -> str:
    return f"{prefix}-{year:04d}-{sequence:0{digits}d}"


def allocate(partition: int, index: int, stride: int) -> int:
    """The integer part of the ``index``-th (0-based) ticket opened from ``partition``."""
    if not 0 <= partition < stride:
        raise ValueError(f"partition {partition} outside number stride {stride}")
    return index * stride + partition + 1


_new_number = constructor(TicketNumber)


def parse(number: str) -> TicketNumber | None:
    m = _NUMBER.match(number.strip().upper())
    if m is None:
        return None
    prefix, year, sequence = m.groups()
    return _new_number(prefix=prefix, year=int(year), sequence=int(sequence))


def subject_numbers(subject: str, prefix: str) -> tuple[str, ...]:
    """Ticket numbers quoted in a subject as ``[HL-2026-000123]`` (our own prefix only)."""
    if "[" not in subject:
        return ()
    return tuple(m.upper() for m in _subject_pattern(prefix).findall(subject))


@lru_cache(maxsize=PATTERN_CACHE_SIZE)
def _subject_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"\[\s*({re.escape(prefix)}-\d{{4}}-\d{{3,12}})\s*\]", re.IGNORECASE)
