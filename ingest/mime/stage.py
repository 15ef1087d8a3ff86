"""The normalize stage: raw.email + raw.chat → messages.

A thin shell over the pure parsers: each RawEmail goes through :func:`ingest.mime.parse_email`,
each RawChatMessage through :func:`ingest.chat.normalize.to_inbound`; the InboundMessage goes to
``messages`` keyed by its partition key. A record that cannot be parsed raises
:class:`ingest.mime.UnparseableEmail` (or :class:`UnexpectedRecord`), which the runner sends to
``dlq.normalize`` with the original bytes; the stage keeps no state, so nothing to undo.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ingest.chat.normalize import to_inbound
from ingest.mime import UnparseableEmail, parse_email
from ingest.mime.settings import NormalizeSettings
from schemas.codec import decode
from schemas.errors import HelplineError
from schemas.message import InboundMessage
from schemas.raw import RawChatMessage, RawEmail
from schemas.stage import In, Out, Stage, StageContext
from schemas.topics import MESSAGES, STAGE_TOPICS, TopicSpec


class UnexpectedRecord(HelplineError, ValueError):
    """A record on an input topic that is neither a RawEmail nor a RawChatMessage."""


def raw_ref(record: In) -> str:
    """Where the raw record lives, so a ticket can point back to the exact bytes."""
    return f"{record.topic.name}/{record.partition}/{record.offset}"


class NormalizeStage(Stage):
    name = "normalize"
    inputs: tuple[TopicSpec, ...] = STAGE_TOPICS["normalize"].inputs
    tables: tuple[TopicSpec, ...] = STAGE_TOPICS["normalize"].tables
    tick_interval: float | None = None

    def __init__(self, settings: NormalizeSettings | None = None) -> None:
        self.settings = settings or NormalizeSettings()

    def restore(self, topic: TopicSpec, key: bytes, value: Any | None) -> None:
        """No tables: normalizing needs nothing but the record itself."""

    def tick(self, now: datetime) -> list[Out]:
        return []

    def normalize(self, record: In) -> InboundMessage:
        value = record.value
        if isinstance(value, bytes | bytearray):  # a runner that hands over undecoded values
            value = decode(record.topic.value_type, bytes(value))
        if isinstance(value, RawEmail):
            return parse_email(
                value.raw,
                mailbox=value.mailbox,
                received_at=value.received_at,
                raw_ref=raw_ref(record),
                settings=self.settings,
            )
        if isinstance(value, RawChatMessage):
            return to_inbound(value, raw_ref=raw_ref(record))
        raise UnexpectedRecord(
            f"{record.topic.name}: expected RawEmail or RawChatMessage, got {type(value).__name__}"
        )

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        outs: list[Out] = []
        for record in batch:
            msg = self.normalize(record)
            outs.append(Out(MESSAGES, msg.partition_key, msg))
        return outs


def build_stage(ctx: StageContext) -> NormalizeStage:
    settings = ctx.section("normalize")
    if not isinstance(settings, NormalizeSettings):
        settings = NormalizeSettings.model_validate(settings or {})
    return NormalizeStage(settings)


__all__ = ["NormalizeStage", "UnexpectedRecord", "UnparseableEmail", "build_stage"]
