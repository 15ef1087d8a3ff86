"""The "not a ticket" bin: inbound mail that no agent should see in the queue, kept with the
reason (a mailing list, a no-reply sender, our own address, a robot's reply that matches no
ticket). Nothing is lost: ``helpline tickets bin restore`` puts a message back as a ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from schemas.base import Extra, extra_field, record
from schemas.message import InboundMessage

BinReason = Literal[
    "mailing-list", "no-reply-sender", "own-address", "auto-reply", "bounce", "bulk"
]


@record
class BinnedMessage:
    schema_version: int = 1
    message_id: str
    reason: BinReason
    detail: str = ""  # what matched: the List-Id, the sender pattern, the auto-reply header
    at: datetime  # when the message was received (replays bin at the same instant)
    message: InboundMessage
    restored: bool = False  # put back as a ticket by an operator
    restored_by: str = ""
    extra: Extra = extra_field()
