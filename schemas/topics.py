"""Every topic helpline uses and who reads and writes it, in one place.

The topics: name, key, value schema, partitions, retention. Names are relative; ``runtime``
prefixes them (``helpline.`` by default, configurable so that several deployments or test runs
can share one cluster). Stages refer to topics by these constants, never by string.

The topology (:data:`PIPELINE`, :data:`CONNECTORS`): each stage's inputs (consumed in its
group), tables (read whole, restored before any input), outputs and its own dead-letter topic;
each connector's outputs. ``runtime.workers`` (what ``helpline worker <name>`` runs), the lag
column of ``helpline topics list`` (:data:`CONSUMERS`) and every stage's ``inputs`` / ``tables``
are derived from it, so a new edge is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.bin import BinnedMessage
from schemas.commands import AgentAction
from schemas.deadletter import DeadLetter
from schemas.directory import Agent, CustomerRecord, RulesetRecord
from schemas.events import TicketEvent
from schemas.message import InboundMessage
from schemas.notification import ChatReply, Notification, NotificationResult
from schemas.raw import RawChatMessage, RawEmail
from schemas.route_events import RouteTicketState
from schemas.ticket import Ticket

Cleanup = Literal["delete", "compact"]

DAY_MS = 24 * 3600 * 1000
MIB = 1024 * 1024
# A raw email travels base64-encoded inside JSON (x1.37): 48 MiB holds a 25 MB mail, the SMTP
# receiver's default size limit; a dead letter wraps such a record once more.
RAW_EMAIL_MAX_BYTES = 48 * MIB
DEAD_LETTER_MAX_BYTES = 64 * MIB


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    value_type: type
    key: str  # what the key is, for humans and for `helpline topics list`
    cleanup: Cleanup = "delete"
    retention_ms: int | None = 7 * DAY_MS  # None: keep forever
    partitions: int | None = None  # None: the configured default
    description: str = ""
    max_message_bytes: int | None = None  # None: the broker's default (1 MiB)

    def configs(self) -> dict[str, str]:
        out: dict[str, str] = {"cleanup.policy": self.cleanup}
        if self.retention_ms is not None and self.cleanup == "delete":
            out["retention.ms"] = str(self.retention_ms)
        elif self.retention_ms is None:
            out["retention.ms"] = "-1"
        if self.max_message_bytes is not None:
            out["max.message.bytes"] = str(self.max_message_bytes)
        return out


def dlq_name(stage: str) -> str:
    return f"dlq.{stage}"


RAW_EMAIL = TopicSpec(
    "raw.email", RawEmail, key="mailbox", retention_ms=None,
    description="RFC 822 bytes + envelope, as received; kept forever so parsing can be replayed",
    max_message_bytes=RAW_EMAIL_MAX_BYTES,
)
RAW_CHAT = TopicSpec(
    "raw.chat", RawChatMessage, key="site:conversation", retention_ms=None,
    description="chat messages as accepted by the chat service",
)
MESSAGES = TopicSpec(
    "messages", InboundMessage, key="sender address / chat conversation",
    description="normalized inbound messages",
)
TICKET_COMMANDS = TopicSpec(
    "ticket.commands", AgentAction, key="ticket id",
    description="agent actions: reply, status, assign, merge, link to master",
)
TICKET_EVENTS = TopicSpec(
    "ticket.events", TicketEvent, key="ticket id", retention_ms=None,
    description="the immutable event log, one ticket's events ordered on one partition",
)
TICKET_STATE = TopicSpec(
    "ticket.state", Ticket, key="ticket id", cleanup="compact", retention_ms=None,
    description="current state of every ticket (compacted)",
)
TICKETS_BIN = TopicSpec(
    "tickets.bin", BinnedMessage, key="message id", cleanup="compact", retention_ms=None,
    description='the "not a ticket" bin: list mail, no-reply senders, our own address, robots '
    "(kept, with the reason; `helpline tickets bin list|restore`)",
)
CUSTOMERS = TopicSpec(
    "customers", CustomerRecord, key="customer id", cleanup="compact", retention_ms=None,
    description="customer directory (compacted)",
)
RULES = TopicSpec(
    "rules", RulesetRecord, key="ruleset name", cleanup="compact", retention_ms=None,
    partitions=1, description="classification rule sets (compacted)",
)
AGENTS = TopicSpec(
    "agents", Agent, key="agent id", cleanup="compact", retention_ms=None, partitions=1,
    description="agents, skills, capacity, presence (compacted)",
)
NOTIFY_OUTBOX = TopicSpec(
    "notify.outbox", Notification, key="ticket id",
    description="notifications to send",
)
NOTIFY_RESULTS = TopicSpec(
    "notify.results", NotificationResult, key="notification id",
    description="what happened to each notification",
)
NOTIFY_SENTLOG = TopicSpec(
    "notify.sentlog", NotificationResult, key="notification id", cleanup="compact",
    retention_ms=None, description="sent-log: a notification id found here is never sent again",
)

CHAT_OUTBOUND = TopicSpec(
    "chat.outbound", ChatReply, key="site:conversation",
    description="replies and auto-acks for open chat sessions",
)

ROUTE_STATE = TopicSpec(
    "route.state", RouteTicketState, key="ticket id", cleanup="compact", retention_ms=None,
    description="the route stage's per-ticket facts, SLA clocks and fired timers (compacted)",
)



def dead_letter_topic(stage: str) -> TopicSpec:
    """The dead-letter topic of ``stage``: what it could not process, with the original bytes.
    (A stage outside :data:`PIPELINE`, in a test or a benchmark, gets one of its own too.)"""
    return TopicSpec(dlq_name(stage), DeadLetter, key="source key", retention_ms=None,
                     description=f"what the {stage} stage could not process, with the original "
                                 "bytes", max_message_bytes=DEAD_LETTER_MAX_BYTES)


# -- the topology -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StageTopics:
    """One stage of the pipeline: where its code is and what it reads and writes."""

    name: str
    module: str  # its ``build_stage(ctx) -> Stage`` lives here (imported only by its worker)
    inputs: tuple[TopicSpec, ...]  # consumed in the stage's group; lag is measured on these
    outputs: tuple[TopicSpec, ...]
    tables: tuple[TopicSpec, ...]  # compacted topics read whole (no group), restored first
    dlq: TopicSpec  # its own: what it could not process (the runner writes it)


@dataclass(frozen=True, slots=True)
class ConnectorTopics:
    """A connector (a worker that owns its sockets) and the raw topics it writes."""

    name: str
    module: str  # its ``CONNECTOR`` (schemas.stage.Connector) lives here
    outputs: tuple[TopicSpec, ...]
    reads: tuple[TopicSpec, ...] = ()  # followed without a consumer group


def _stage(name: str, module: str, inputs: tuple[TopicSpec, ...], outputs: tuple[TopicSpec, ...],
           tables: tuple[TopicSpec, ...] = ()) -> StageTopics:
    return StageTopics(name, module, inputs, outputs, tables, dead_letter_topic(name))


PIPELINE: tuple[StageTopics, ...] = (
    _stage("normalize", "ingest.mime.stage", inputs=(RAW_EMAIL, RAW_CHAT), outputs=(MESSAGES,)),
    # tickets.bin in: an operator's restore of a binned message (its own bin writes skipped)
    _stage("tickets", "tickets.stage",
           inputs=(MESSAGES, TICKET_COMMANDS, TICKET_EVENTS, TICKETS_BIN),
           outputs=(TICKET_EVENTS, TICKET_STATE, CUSTOMERS, NOTIFY_OUTBOX, TICKETS_BIN),
           tables=(TICKET_STATE, CUSTOMERS)),
    _stage("classify", "classify.stage", inputs=(TICKET_EVENTS,), outputs=(TICKET_EVENTS,),
           tables=(RULES, CUSTOMERS, TICKET_STATE)),
    _stage("route", "route.stage", inputs=(TICKET_EVENTS,),
           outputs=(TICKET_EVENTS, ROUTE_STATE, NOTIFY_OUTBOX),
           tables=(AGENTS, CUSTOMERS, ROUTE_STATE)),
    _stage("notify", "notify.stage", inputs=(TICKET_EVENTS, NOTIFY_OUTBOX),
           outputs=(NOTIFY_RESULTS, NOTIFY_SENTLOG, CHAT_OUTBOUND, TICKET_EVENTS),
           tables=(NOTIFY_SENTLOG,)),
)
CONNECTORS: tuple[ConnectorTopics, ...] = (
    ConnectorTopics("imap", "ingest.imap.service", outputs=(RAW_EMAIL,)),
    ConnectorTopics("smtp", "ingest.smtp.service", outputs=(RAW_EMAIL,)),
    ConnectorTopics("chat", "ingest.chat.service", outputs=(RAW_CHAT,), reads=(CHAT_OUTBOUND,)),
)
STAGE_TOPICS: dict[str, StageTopics] = {s.name: s for s in PIPELINE}
STAGES: tuple[str, ...] = tuple(STAGE_TOPICS)



def _consumers() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for stage in PIPELINE:
        for topic in stage.inputs:
            out[topic.name] = (*out.get(topic.name, ()), stage.name)
    return out


# Which stages consume each topic in their group (the lag column of `helpline topics list`).
CONSUMERS: dict[str, tuple[str, ...]] = _consumers()
DEAD_LETTERS: tuple[TopicSpec, ...] = tuple(s.dlq for s in PIPELINE)

ALL: tuple[TopicSpec, ...] = (
    RAW_EMAIL, RAW_CHAT, MESSAGES, TICKET_COMMANDS, TICKET_EVENTS, TICKET_STATE, TICKETS_BIN,
    CUSTOMERS, RULES,
    AGENTS, NOTIFY_OUTBOX, NOTIFY_RESULTS, NOTIFY_SENTLOG, CHAT_OUTBOUND, ROUTE_STATE,
    *DEAD_LETTERS,
)
BY_NAME: dict[str, TopicSpec] = {t.name: t for t in ALL}
