"""The tickets stage's in-memory state: every ticket, plus the indexes threading looks up.

Indexes are derived from the tickets only (never stored separately), so restoring the compacted
``ticket.state`` table rebuilds them exactly. ``put`` is the only mutation; it keeps the indexes
in step and tracks the per-partition number counters (see :mod:`tickets.numbers`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from schemas.ticket import Ticket
from tickets import numbers
from tickets.journal import Journal

# Message-IDs are normalized several times per message (lookups, then indexing): memoized.
NORM_CACHE_SIZE = 65_536


@lru_cache(maxsize=NORM_CACHE_SIZE)
def _norm_mid(message_id: str) -> str:
    return message_id.strip().strip("<>").strip().lower()


def _tail(new: tuple[str, ...], old: tuple[str, ...]) -> tuple[str, ...]:
    return new[len(old):] if new[:len(old)] == old else new


class TicketBook:
    def __init__(self, stride: int) -> None:
        if stride < 1:
            raise ValueError("number stride must be >= 1")
        self.stride = stride
        self.journal = Journal()
        self._tickets: dict[str, Ticket] = {}
        self._by_message: dict[str, str] = {}  # helpline message id -> ticket id
        self._by_internet_id: dict[str, str] = {}  # Message-ID (in or out) -> ticket id
        self._by_referenced: dict[str, str] = {}  # Message-ID referenced by a ticket message
        self._by_number: dict[str, str] = {}
        self._by_conversation: dict[tuple[str, str], str] = {}
        self._next_index: dict[int, int] = {}  # partition -> next per-partition ticket index
        self._solved: dict[str, None] = {}  # tickets waiting to be closed (an ordered set)

    # -- reads -------------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def __len__(self) -> int:
        return len(self._tickets)

    def __iter__(self) -> Iterator[Ticket]:
        return iter(self._tickets.values())

    def by_message(self, message_id: str) -> str | None:
        return self._by_message.get(message_id)

    def by_internet_id(self, message_id: str) -> str | None:
        return self._by_internet_id.get(_norm_mid(message_id))

    def by_referenced(self, message_id: str) -> str | None:
        return self._by_referenced.get(_norm_mid(message_id))

    def by_number(self, number: str) -> str | None:
        return self._by_number.get(number.upper())

    def by_conversation(self, mailbox: str, conversation_id: str) -> str | None:
        return self._by_conversation.get((mailbox, conversation_id))

    def solved(self) -> list[Ticket]:
        return [self._tickets[tid] for tid in self._solved if tid in self._tickets]

    def next_number_index(self, partition: int) -> int:
        return self._next_index.get(partition, 0)

    # -- writes ------------------------------------------------------------------------------

    def put(self, ticket: Ticket) -> None:
        """Store a ticket's newest state. An older version than the one held is ignored (the
        stage reads its own state topic back)."""
        held = self._tickets.get(ticket.ticket_id)
        if held is not None and held.version > ticket.version:
            return
        tid, j = ticket.ticket_id, self.journal
        j.set(self._tickets, tid, ticket)
        if ticket.status == "solved":
            j.setdefault(self._solved, tid, None)
        elif tid in self._solved:
            j.pop(self._solved, tid)
        # The fold only appends to these tuples (and keeps the very tuple when nothing is
        # new), so only the new tail needs indexing (setdefault keeps a wrong guess harmless
        # for records read back from the topic).
        if held is None:
            j.setdefaults(self._by_message, ticket.message_ids, tid)
            j.setdefaults(self._by_internet_id, map(_norm_mid, ticket.internet_message_ids), tid)
            j.setdefaults(self._by_referenced, map(_norm_mid, ticket.thread_refs), tid)
        else:
            if ticket.message_ids is not held.message_ids:
                j.setdefaults(self._by_message, _tail(ticket.message_ids, held.message_ids), tid)
            if ticket.internet_message_ids is not held.internet_message_ids:
                j.setdefaults(self._by_internet_id, map(_norm_mid, _tail(
                    ticket.internet_message_ids, held.internet_message_ids)), tid)
            if ticket.thread_refs is not held.thread_refs:
                j.setdefaults(self._by_referenced, map(_norm_mid, _tail(
                    ticket.thread_refs, held.thread_refs)), tid)
        if held is not None and held.number == ticket.number and (
                held.conversation_id == ticket.conversation_id):
            return
        j.setdefault(self._by_number, ticket.number.upper(), tid)
        if ticket.conversation_id:
            j.setdefault(self._by_conversation, (ticket.mailbox, ticket.conversation_id), tid)
        parsed = numbers.parse(ticket.number)
        if parsed is not None:
            partition, index = parsed.partition_slot(self.stride)
            if index + 1 > self._next_index.get(partition, 0):
                j.set(self._next_index, partition, index + 1)

    def forget(self, ticket_id: str) -> None:
        """Drop a ticket (a tombstone on the state table)."""
        self.journal.pop(self._tickets, ticket_id)
        self.journal.pop(self._solved, ticket_id)
