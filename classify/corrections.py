"""Agents' corrections as labelled tickets: the fold of ticket events that turns "an agent
changed what classification decided" into a :class:`LabelledExample`.

What counts as a correction, after the ticket's ``classified`` event:

* ``priority-changed`` by an agent: the priority it chose;
* ``assigned`` by an agent to another team than classification chose: that team;
* ``merged`` into another ticket whose category differs: the other ticket's category (the
  agent said "this is the same matter as that one");
* ``escalated`` by an agent (trigger ``agent``): the escalation's reason, under the target
  ``escalation`` (what kinds of tickets agents escalate, and why);
* a ``classified`` event by an agent (a re-classification): each field it changed.

Pure and bounded: it remembers the first message and the classification of the last
``max_tickets`` tickets, no more. The classify stage runs it over every event it reads and the
``classified`` events it writes; ``helpline model train --from-topic`` reads what it emitted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from schemas.classify_events import Classified
from schemas.directory import LabelledExample
from schemas.events import MessageAdded, TicketEvent
from schemas.route_events import Assigned, Escalated
from schemas.ticket_events import Merged, PriorityChanged

FIELDS = ("category", "team", "priority", "department", "type")
TEXT_CHARS = 2000  # of the first message kept per ticket (what the model reads, too)


@dataclass
class _Seen:
    text: str = ""
    decided: Classified | None = None


def example_key(example: LabelledExample) -> bytes:
    return f"{example.ticket_id}/{example.target}".encode()


class Corrections:
    def __init__(self, max_tickets: int = 50_000, text_chars: int = TEXT_CHARS) -> None:
        self.max_tickets = max_tickets
        self.text_chars = text_chars
        self._tickets: OrderedDict[str, _Seen] = OrderedDict()

    def observe(self, event: TicketEvent) -> list[LabelledExample]:
        p = event.payload
        seen = self._tickets.get(event.ticket_id)
        if isinstance(p, MessageAdded):
            if p.direction == "inbound" and (seen is None or not seen.text):
                self._remember(event.ticket_id).text = \
                    f"{p.subject}\n{p.text}"[: self.text_chars]
            return []
        if isinstance(p, Classified):
            if event.actor.kind == "agent" and seen is not None and seen.decided is not None:
                out = [self._example(event, seen, f, str(getattr(p, f)), "reclassified")
                       for f in FIELDS
                       if getattr(p, f) is not None and getattr(p, f) != getattr(seen.decided, f)]
                seen.decided = p
                return out
            if seen is None or seen.decided is None:  # the first classification is the model's
                self._remember(event.ticket_id).decided = p
            return []
        if seen is None or seen.decided is None or event.actor.kind != "agent":
            return self._merged(event, seen) if isinstance(p, Merged) else []
        decided = seen.decided
        if isinstance(p, PriorityChanged) and p.to_priority != decided.priority:
            return [self._example(event, seen, "priority", p.to_priority, "priority-changed")]
        if isinstance(p, Assigned) and p.team and p.team != decided.team:
            return [self._example(event, seen, "team", p.team, "assigned")]
        if isinstance(p, Escalated) and p.reason:
            return [self._example(event, seen, "escalation", p.reason, "escalated")]
        if isinstance(p, Merged):
            return self._merged(event, seen)
        return []

    def _merged(self, event: TicketEvent, seen: _Seen | None) -> list[LabelledExample]:
        assert isinstance(event.payload, Merged)
        into = self._tickets.get(event.payload.into_ticket_id)
        if (seen is None or seen.decided is None or into is None or into.decided is None
                or into.decided.category is None
                or into.decided.category == seen.decided.category):
            return []
        return [self._example(event, seen, "category", into.decided.category, "merged")]

    def _example(self, event: TicketEvent, seen: _Seen, target: str, label: str,
                 source: str) -> LabelledExample:
        previous = getattr(seen.decided, target, None) if target in FIELDS else None
        return LabelledExample(ticket_id=event.ticket_id, target=target, label=label,
                               previous=None if previous is None else str(previous),
                               text=seen.text, source=source, at=event.at)

    def _remember(self, ticket_id: str) -> _Seen:
        seen = self._tickets.get(ticket_id)
        if seen is None:
            seen = self._tickets[ticket_id] = _Seen()
            while len(self._tickets) > self.max_tickets:
                self._tickets.popitem(last=False)
        else:
            self._tickets.move_to_end(ticket_id)
        return seen
