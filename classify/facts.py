"""What rules can look at: the facts about one ticket at the moment it is classified.

:class:`TicketFacts` is built by the stage from the event, the ticket state and the customer
record; :class:`FactView` adds the clock (time is a parameter) and caches folded text, so each
field is folded once per ticket however many rules look at it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from classify.text import fold, fold_cached

FieldKind = Literal["text", "number", "bool", "list", "time"]
_CACHED_FOLD_MAX = 64
_MISSING: Any = object()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    tier: str | None = None
    title: str | None = None
    company: str | None = None
    language: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TicketFacts:
    subject: str = ""
    body: str = ""
    sender: str = ""  # the requester's address
    channel: str = ""  # email / chat / api
    mailbox: str = ""  # support mailbox or chat site
    form: Mapping[str, str] = field(default_factory=dict)  # web form / chat pre-chat fields
    customer: CustomerFacts = CustomerFacts()
    language: str | None = None  # detected
    sentiment: str | None = None  # negative / neutral / positive
    sentiment_score: float | None = None
    attachments: tuple[str, ...] = ()  # file names
    priority: str = "normal"
    status: str = "new"
    exchanges: int = 0
    created_at: datetime | None = None
    is_new: bool = True  # the ticket's first inbound message (Freshdesk's "ticket is created")
    tags: tuple[str, ...] = ()
    ticket_type: str | None = None  # as set on the ticket (web form's type, an agent, a rule)
    ticket_category: str | None = None
    ticket_team: str | None = None
    model_category: str | None = None
    model_confidence: float | None = None
    model_uncertain: bool = False
    model_priority: str | None = None


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When the support desk works: ``days["mon"] = (time(9), time(18))``; absent day = closed."""

    timezone: str = "UTC"
    days: Mapping[str, tuple[time, time]] = field(default_factory=dict)

    def is_open(self, local: datetime) -> bool:
        span = self.days.get(WEEKDAYS[local.weekday()])
        return span is not None and span[0] <= local.time() < span[1]


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


@lru_cache(maxsize=1024)
def _customer(name: str) -> Callable[[TicketFacts], Any]:
    """The getter of ``customer.<name>``, made once per field name."""
    fixed = {"tier", "title", "company", "language"}
    if name in fixed:
        return lambda f: getattr(f.customer, name)
    return lambda f: f.customer.attributes.get(name)


_FIELDS: dict[str, tuple[FieldKind, Callable[[TicketFacts], Any]]] = {
    "subject": ("text", lambda f: f.subject),
    "body": ("text", lambda f: f.body),
    "text": ("text", lambda f: f"{f.subject}\n{f.body}"),
    "sender": ("text", lambda f: f.sender),
    "sender_domain": ("text", lambda f: _domain(f.sender)),
    "channel": ("text", lambda f: f.channel),
    "mailbox": ("text", lambda f: f.mailbox),
    "language": ("text", lambda f: f.language),
    "sentiment": ("text", lambda f: f.sentiment),
    "sentiment_score": ("number", lambda f: f.sentiment_score),
    "has_attachments": ("bool", lambda f: bool(f.attachments)),
    "attachments.count": ("number", lambda f: len(f.attachments)),
    "attachments.names": ("list", lambda f: f.attachments),
    "ticket.priority": ("text", lambda f: f.priority),
    "ticket.status": ("text", lambda f: f.status),
    "ticket.exchanges": ("number", lambda f: f.exchanges),
    "ticket.is_new": ("bool", lambda f: f.is_new),
    "ticket.tags": ("list", lambda f: f.tags),
    "ticket.type": ("text", lambda f: f.ticket_type),
    "ticket.category": ("text", lambda f: f.ticket_category),
    "ticket.team": ("text", lambda f: f.ticket_team),
    "model.category": ("text", lambda f: f.model_category),
    "model.confidence": ("number", lambda f: f.model_confidence),
    "model.uncertain": ("bool", lambda f: f.model_uncertain),
    "model.priority": ("text", lambda f: f.model_priority),
}
# Fields that need the clock: computed by FactView from ``now`` in the desk's timezone.
_TIME_FIELDS: dict[str, FieldKind] = {
    "ticket.age_hours": "number",
    "time.hour": "number",
    "time.of_day": "time",
    "time.weekday": "text",
    "time.business_hours": "bool",
}
FIELD_PREFIXES = ("form.", "customer.")


def field_kind(name: str) -> FieldKind | None:
    """The kind of a field name, or None when rules cannot use it."""
    if name in _FIELDS:
        return _FIELDS[name][0]
    if name in _TIME_FIELDS:
        return _TIME_FIELDS[name]
    if any(name.startswith(p) and len(name) > len(p) for p in FIELD_PREFIXES):
        return "text"
    return None


def known_fields() -> tuple[str, ...]:
    return (*_FIELDS, *_TIME_FIELDS, "form.<name>", "customer.<tier|title|company|language|…>")


class FactView:
    """Facts plus the clock, with each field's value and folded form computed at most once."""

    __slots__ = ("_folded", "_values", "facts", "hours", "now")

    def __init__(self, facts: TicketFacts, now: datetime, hours: BusinessHours) -> None:
        self.facts = facts
        self.now = now
        self.hours = hours
        self._values: dict[str, Any] = {}
        self._folded: dict[str, str | None] = {}

    def seed(self, folded: Mapping[str, str], values: Mapping[str, Any] | None = None) -> None:
        """Folded forms and field values computed elsewhere: the classifier folds subject and
        body once for rules, sentiment and models, and hands over the signals it computed
        (``{"language": "fr", "model.category": …}``) instead of copying the facts."""
        self._folded.update(folded)
        if values:
            self._values.update(values)

    def value(self, name: str) -> Any:
        # .get, not try/except: most fields are missed once per ticket, and raising is slow
        value = self._values.get(name, _MISSING)
        if value is not _MISSING:
            return value
        value = self._compute(name)
        self._values[name] = value
        return value

    def folded(self, name: str) -> str | None:
        out: str | None = self._folded.get(name, _MISSING)
        if out is not _MISSING:
            return out
        raw = self.value(name)
        if raw is None:
            out = None
        else:
            text = str(raw)
            # short values (tier, channel, priority, a domain) repeat from ticket to ticket
            out = fold_cached(text) if len(text) <= _CACHED_FOLD_MAX else fold(text)
        self._folded[name] = out
        return out

    def _compute(self, name: str) -> Any:
        entry = _FIELDS.get(name)
        if entry is not None:
            return entry[1](self.facts)
        if name.startswith("form."):
            return self.facts.form.get(name[5:])
        if name.startswith("customer."):
            return _customer(name[9:])(self.facts)
        if name == "ticket.age_hours":
            created = self.facts.created_at
            return 0.0 if created is None else (self.now - created).total_seconds() / 3600.0
        local = self.now.astimezone(ZoneInfo(self.hours.timezone))
        if name == "time.hour":
            return local.hour
        if name == "time.of_day":
            return local.strftime("%H:%M")
        if name == "time.weekday":
            return WEEKDAYS[local.weekday()]
        if name == "time.business_hours":
            return self.hours.is_open(local)
        raise KeyError(name)
