"""Wire schemas: frozen dataclasses and the one orjson codec. Imports nothing else of ours."""

from schemas.codec import DecodeError, decode, decoder, encode, encode_pretty
from schemas.commands import AgentAction
from schemas.deadletter import DeadLetter
from schemas.directory import Agent, CustomerRecord, RulesetRecord, WorkingHours
from schemas.events import EVENT_KINDS, Actor, EventPayload, TicketEvent
from schemas.message import Address, Attachment, Bounce, InboundMessage, MessageFlags
from schemas.notification import AckSent, ChatReply, Notification, NotificationResult
from schemas.raw import RawChatMessage, RawEmail
from schemas.ticket import Ticket

__all__ = [
    "EVENT_KINDS",
    "AckSent",
    "Actor",
    "Address",
    "Agent",
    "AgentAction",
    "Attachment",
    "Bounce",
    "ChatReply",
    "CustomerRecord",
    "DeadLetter",
    "DecodeError",
    "EventPayload",
    "InboundMessage",
    "MessageFlags",
    "Notification",
    "NotificationResult",
    "RawChatMessage",
    "RawEmail",
    "RulesetRecord",
    "Ticket",
    "TicketEvent",
    "WorkingHours",
    "decode",
    "decoder",
    "encode",
    "encode_pretty",
]
