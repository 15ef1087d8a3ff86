"""Every topic helpline uses, in one place: name, key, value schema, partitions, retention.

Names are relative; ``runtime`` prefixes them (``helpline.`` by default, configurable so that
several deployments or test runs can share one cluster). Stages refer to topics by these
constants, never by string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.commands import AgentAction
from schemas.deadletter import DeadLetter
from schemas.directory import (
    Agent,
    CustomerRecord,
    LabelledExample,
    ModelPart,
    RulesetRecord,
)
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
    dlq: str | None = None  # the dead-letter topic of the stage consuming this topic
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


STAGES = ("normalize", "tickets", "classify", "route", "notify")

RAW_EMAIL = TopicSpec(
    "raw.email", RawEmail, key="mailbox", retention_ms=None, dlq=dlq_name("normalize"),
    description="RFC 822 bytes + envelope, as received; kept forever so parsing can be replayed",
    max_message_bytes=RAW_EMAIL_MAX_BYTES,
)
RAW_CHAT = TopicSpec(
    "raw.chat", RawChatMessage, key="site:conversation", retention_ms=None,
    dlq=dlq_name("normalize"), description="chat messages as accepted by the chat service",
)
MESSAGES = TopicSpec(
    "messages", InboundMessage, key="sender address / chat conversation",
    dlq=dlq_name("tickets"), description="normalized inbound messages",
)
TICKET_COMMANDS = TopicSpec(
    "ticket.commands", AgentAction, key="ticket id", dlq=dlq_name("tickets"),
    description="agent actions: reply, status, assign, merge, link to master",
)
TICKET_EVENTS = TopicSpec(
    "ticket.events", TicketEvent, key="ticket id", retention_ms=None, dlq=dlq_name("classify"),
    description="the immutable event log, one ticket's events ordered on one partition",
)
TICKET_STATE = TopicSpec(
    "ticket.state", Ticket, key="ticket id", cleanup="compact", retention_ms=None,
    description="current state of every ticket (compacted)",
)
CUSTOMERS = TopicSpec(
    "customers", CustomerRecord, key="customer id", cleanup="compact", retention_ms=None,
    description="customer directory (compacted)",
)
RULES = TopicSpec(
    "rules", RulesetRecord, key="ruleset name", cleanup="compact", retention_ms=None,
    partitions=1, description="classification rule sets (compacted)",
)
MODELS = TopicSpec(
    "models", ModelPart, key="version/chunk, or the model slot (manifest)", cleanup="compact",
    retention_ms=None, partitions=1,
    description="trained classifiers in signed chunks, hot-reloaded by classify (compacted)",
)
MODEL_EXAMPLES = TopicSpec(
    "model.examples", LabelledExample, key="ticket id/target", cleanup="compact",
    retention_ms=None,
    description="agents' corrections of classification, as labelled tickets (compacted)",
)
AGENTS = TopicSpec(
    "agents", Agent, key="agent id", cleanup="compact", retention_ms=None, partitions=1,
    description="agents, skills, capacity, presence (compacted)",
)
NOTIFY_OUTBOX = TopicSpec(
    "notify.outbox", Notification, key="ticket id", dlq=dlq_name("notify"),
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

DEAD_LETTERS = tuple(
    TopicSpec(dlq_name(s), DeadLetter, key="source key", retention_ms=None,
              description=f"what the {s} stage could not process, with the original bytes",
              max_message_bytes=DEAD_LETTER_MAX_BYTES)
    for s in STAGES
)

ALL: tuple[TopicSpec, ...] = (
    RAW_EMAIL, RAW_CHAT, MESSAGES, TICKET_COMMANDS, TICKET_EVENTS, TICKET_STATE, CUSTOMERS, RULES,
    MODELS, MODEL_EXAMPLES, AGENTS, NOTIFY_OUTBOX, NOTIFY_RESULTS, NOTIFY_SENTLOG, CHAT_OUTBOUND,
    ROUTE_STATE,
    *DEAD_LETTERS,
)
BY_NAME: dict[str, TopicSpec] = {t.name: t for t in ALL}
