"""The classify stage: ticket events in (``created``, inbound ``message-added``), ``classified``
events out, onto the same ticket.events topic.

Tables: ``rules`` (the ruleset to run, hot-reloaded; a file that does not compile is reported and
the running version kept), ``customers`` (tier, title, company, language for rules) and
``ticket.state`` (priority, status, exchanges, age). Everything else on ticket.events, including
this stage's own ``classified`` events, is ignored.

The ``classified`` event id is a hash of the ticket, the message event that caused it and the
kind, and rules see the message's own time, so a replay produces identical events.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from classify.classifier import Classifier, ClassifierOptions
from classify.facts import CustomerFacts, TicketFacts
from classify.language import LanguageDetection
from classify.model import TicketClassifier, load_model
from classify.rules import EMPTY, Ruleset
from classify.rules_loader import RuleFileError, load_rules
from classify.settings import ClassifySettings
from schemas.classify_events import Classified
from schemas.directory import CustomerRecord, RulesetRecord
from schemas.events import Actor, Created, MessageAdded, TicketEvent
from schemas.stage import In, Out, Stage, StageContext
from schemas.ticket import Ticket
from schemas.topics import CUSTOMERS, RULES, STAGE_TOPICS, TICKET_EVENTS, TICKET_STATE, TopicSpec

log = logging.getLogger(__name__)
ACTOR = Actor(kind="rule", id="classify")


def classified_event_id(ticket_id: str, cause_event_id: str) -> str:
    """Same scheme as the tickets stage: ``e`` + sha256(ticket, cause, kind)[:24]."""
    digest = hashlib.sha256("\x1f".join((ticket_id, cause_event_id, Classified.TAG)).encode())
    return "e" + digest.hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class TicketSnapshot:
    """What classification needs of a ticket's state (kept small: one per open ticket)."""

    subject: str
    channel: str
    mailbox: str
    customer_id: str
    requester: str
    priority: str = "normal"
    status: str = "new"
    exchanges: int = 0
    inbound_count: int = 0
    created_at: datetime | None = None
    tags: tuple[str, ...] = ()
    first_message_id: str | None = None  # the message that opened the ticket
    type: str | None = None
    category: str | None = None
    team: str | None = None

    @staticmethod
    def of_ticket(t: Ticket) -> TicketSnapshot:
        return TicketSnapshot(t.subject, t.channel, t.mailbox, t.customer_id,
                              t.requester.address, t.priority, t.status, t.exchanges,
                              t.inbound_count, t.created_at, t.tags,
                              t.message_ids[0] if t.message_ids else None, t.type,
                              t.category, t.team)

    @staticmethod
    def of_created(e: TicketEvent, c: Created) -> TicketSnapshot:
        return TicketSnapshot(c.subject, c.channel, c.mailbox, c.customer_id,
                              c.requester.address, c.priority, c.status, 0, 0, e.at, (),
                              e.causation_id)


class ClassifyStage(Stage):
    name = "classify"
    inputs: tuple[TopicSpec, ...] = STAGE_TOPICS["classify"].inputs
    tables: tuple[TopicSpec, ...] = STAGE_TOPICS["classify"].tables
    tick_interval: float | None = None

    def __init__(self, classifier: Classifier, settings: ClassifySettings) -> None:
        self.classifier = classifier
        self.settings = settings
        self.ruleset: Ruleset = EMPTY
        self.rules_errors: tuple[RuleFileError, ...] = ()
        self.customers: dict[str, CustomerFacts] = {}
        self.tickets: dict[str, TicketSnapshot] = {}
        self.created: OrderedDict[str, TicketSnapshot] = OrderedDict()

    # -- tables -----------------------------------------------------------------------------

    def restore(self, topic: TopicSpec, key: bytes, value: Any | None) -> None:
        if topic is RULES or topic.name == RULES.name:
            if isinstance(value, RulesetRecord):
                self._load_rules(value)
        elif topic.name == CUSTOMERS.name:
            self._restore_customer(key.decode(), value)
        elif topic.name == TICKET_STATE.name:
            ticket_id = key.decode()
            if isinstance(value, Ticket):
                self.tickets[ticket_id] = TicketSnapshot.of_ticket(value)
                self.created.pop(ticket_id, None)
            else:
                self.tickets.pop(ticket_id, None)

    def _load_rules(self, record: RulesetRecord) -> None:
        if record.name != self.settings.ruleset_name:
            return
        checked = load_rules(record.source, record.name, record.format)  # toml or yaml
        if checked.ruleset is None:
            self.rules_errors = checked.errors
            log.error("rules not loaded, keeping version %s", self.ruleset.version,
                      extra={"stage": self.name, "ruleset": record.name,
                             "errors": [str(e) for e in checked.errors]})
            return
        self.ruleset, self.rules_errors = checked.ruleset, ()
        log.info("rules loaded", extra={"stage": self.name, "ruleset": record.name,
                                        "version": checked.ruleset.version,
                                        "rules": len(checked.ruleset.rules)})

    def _restore_customer(self, customer_id: str, value: Any | None) -> None:
        if not isinstance(value, CustomerRecord) or value.deleted:
            self.customers.pop(customer_id, None)
            return
        self.customers[customer_id] = CustomerFacts(
            tier=value.tier, title=value.title, company=value.company,
            language=value.language, attributes=dict(value.attributes),
        )

    # -- input ------------------------------------------------------------------------------

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        work: list[tuple[TicketEvent, TicketFacts, datetime]] = []
        for record in batch:
            event = record.value
            if not isinstance(event, TicketEvent):
                continue
            payload = event.payload
            if isinstance(payload, Created):
                self._remember_created(event, payload)
            elif (isinstance(payload, MessageAdded) and payload.direction == "inbound"
                  and not payload.flags.auto_reply and payload.flags.bounce is None):
                # out-of-office replies and bounces say nothing about what the ticket is
                facts = self._facts(event, payload)
                if facts is not None:
                    work.append((event, facts, payload.received_at))
        if not work:
            return []
        results = self.classifier.classify([f for _, f, _ in work], [t for _, _, t in work],
                                           self.ruleset)
        return [
            Out(TICKET_EVENTS, event.ticket_id.encode(), TicketEvent(
                event_id=classified_event_id(event.ticket_id, event.event_id),
                ticket_id=event.ticket_id, ticket_number=event.ticket_number,
                at=at, actor=ACTOR, payload=result, causation_id=event.event_id,
            ))
            for (event, _, at), result in zip(work, results, strict=True)
        ]

    def tick(self, now: datetime) -> list[Out]:
        return []

    def _remember_created(self, event: TicketEvent, created: Created) -> None:
        self.created[event.ticket_id] = TicketSnapshot.of_created(event, created)
        self.created.move_to_end(event.ticket_id)
        while len(self.created) > self.settings.pending_tickets_max:
            self.created.popitem(last=False)

    def _facts(self, event: TicketEvent, message: MessageAdded) -> TicketFacts | None:
        ticket = self.tickets.get(event.ticket_id) or self.created.get(event.ticket_id)
        # The message that opened the ticket (the state table may lag the log, so compare ids).
        first = ticket.first_message_id if ticket else None
        is_new = first is None or first in (message.message_id, event.causation_id)
        if not is_new and not self.settings.classify_follow_ups:
            return None
        customer_id = message.customer_id or (ticket.customer_id if ticket else "")
        form = message.extra.get("form")
        return TicketFacts(
            subject=message.subject or (ticket.subject if ticket else ""),
            body=message.text[: self.settings.max_text_chars],
            sender=message.author.address,
            channel=message.channel,
            mailbox=ticket.mailbox if ticket else "",
            form={str(k): str(v) for k, v in form.items()} if isinstance(form, Mapping) else {},
            customer=self.customers.get(customer_id, CustomerFacts(language=message.language)),
            attachments=tuple(a.filename for a in message.attachments if not a.inline),
            priority=ticket.priority if ticket else "normal",
            status=ticket.status if ticket else "new",
            exchanges=ticket.exchanges if ticket else 0,
            created_at=ticket.created_at if ticket else message.received_at,
            is_new=is_new,
            tags=ticket.tags if ticket else (),
            ticket_type=(ticket.type if ticket else None) or _form_type(form),
            ticket_category=ticket.category if ticket else None,
            ticket_team=ticket.team if ticket else None,
        )


def _form_type(form: object) -> str | None:
    """A web form's own ticket type field ("type" / "ticket_type"), when it has one."""
    if isinstance(form, Mapping):
        value = form.get("type") or form.get("ticket_type")
        return str(value) if value else None
    return None


def build_classifier(settings: ClassifySettings) -> Classifier:
    """Load the configured models (trusted directories only: the weights are pickle)."""
    models: list[TicketClassifier] = [load_model(Path(d)) for d in settings.model_dirs]
    language = LanguageDetection(
        settings.languages, settings.language_sample_chars, settings.language_min_confidence,
        settings.language_min_letters,
        function_word_min_hits=settings.language_function_word_min_hits,
        function_word_ratio=settings.language_function_word_ratio,
    )
    options = ClassifierOptions(
        triage_team=settings.triage_team,
        sentiment_negative_below=settings.sentiment_negative_below,
        sentiment_positive_above=settings.sentiment_positive_above,
        max_text_chars=settings.max_text_chars,
    )
    return Classifier(language, models, options)


def build_stage(ctx: StageContext) -> ClassifyStage:
    settings: ClassifySettings = ctx.section("classify")
    return ClassifyStage(build_classifier(settings), settings)
