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
from classify.corrections import Corrections, example_key
from classify.facts import CustomerFacts, TicketFacts
from classify.language import LanguageDetection
from classify.model import TicketClassifier, load_model
from classify.model_slots import ModelSlots
from classify.model_topic import signing_key
from classify.rules import EMPTY, Ruleset
from classify.rules_loader import RuleFileError, load_rules
from classify.settings import ClassifySettings
from schemas.classify_events import Classified
from schemas.directory import CustomerRecord, ModelPart, RulesetRecord
from schemas.events import Actor, Created, MessageAdded, TicketEvent
from schemas.stage import In, Out, Stage, StageContext
from schemas.ticket import Ticket
from schemas.topics import (
    CUSTOMERS,
    MODEL_EXAMPLES,
    MODELS,
    RULES,
    STAGE_TOPICS,
    TICKET_EVENTS,
    TICKET_STATE,
    TopicSpec,
)

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

    def __init__(self, classifier: Classifier, settings: ClassifySettings,
                 model_key: bytes = b"") -> None:
        self.classifier = classifier
        self.settings = settings
        # models pushed to the models topic replace the configured ones slot by slot; with no
        # key (a stage built without a context) every pushed model is refused as unsigned
        self.models = ModelSlots(classifier.models, model_key)
        self._shadows: list[tuple[str, Classifier]] = []
        # agents' corrections of what this stage decided, as labelled tickets
        self.corrections = (Corrections(settings.examples_tickets_max)
                            if settings.learn_from_agents else None)
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
        elif topic.name == MODELS.name:
            if value is None or isinstance(value, ModelPart):
                self._load_model(key, value)
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

    def _load_model(self, key: bytes, part: ModelPart | None) -> None:
        if self.models.put(key, part):
            self.classifier = self.models.classifier(self.classifier)
        self._shadows = self.models.shadow_classifiers(self.classifier)

    def report(self) -> dict[str, Any]:
        """What health endpoints and metrics show of this stage: the models it runs (name,
        target, version, active or shadow), the ones it refused and why, the rules version."""
        return {**self.models.report(), "ruleset_version": self.ruleset.version,
                "rules_errors": [str(e) for e in self.rules_errors]}

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
        examples: list[Out] = []
        for record in batch:
            event = record.value
            if not isinstance(event, TicketEvent):
                continue
            if self.corrections is not None:
                examples.extend(Out(MODEL_EXAMPLES, example_key(x), x)
                                for x in self.corrections.observe(event))
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
            return examples
        batch_facts, times = [f for _, f, _ in work], [t for _, _, t in work]
        results = self.classifier.classify(batch_facts, times, self.ruleset)
        for name, shadow in self._shadows:  # would-be decisions, counted, never emitted
            would = shadow.classify(batch_facts, times, self.ruleset)
            self.models.count_shadow(name, results, would)
        outs = [
            Out(TICKET_EVENTS, event.ticket_id.encode(), TicketEvent(
                event_id=classified_event_id(event.ticket_id, event.event_id),
                ticket_id=event.ticket_id, ticket_number=event.ticket_number,
                at=at, actor=ACTOR, payload=result, causation_id=event.event_id,
            ))
            for (event, _, at), result in zip(work, results, strict=True)
        ]
        if self.corrections is not None:
            for out in outs:  # this stage never reads its own events back: tell the fold
                self.corrections.observe(out.value)
        return examples + outs

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
    key = model_signing_key(settings, ctx.signing_key)
    return ClassifyStage(build_classifier(settings), settings, key)


def model_signing_key(settings: ClassifySettings, deployment_key: bytes) -> bytes:
    """The key models are signed with on push and verified with before loading."""
    configured = settings.model_signing_key
    return signing_key(configured.get_secret_value() if configured else None, deployment_key)
