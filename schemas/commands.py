"""Agent actions coming in from agents, the CLI, HTTP or an external helpdesk."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from schemas.base import Extra, extra_field, record
from schemas.ticket_events import Priority, Status

ActionKind = Literal[
    "reply", "note", "set-status", "set-priority", "assign", "merge", "link-master", "escalate"
]


@record
class AgentAction:
    schema_version: int = 1
    command_id: str  # unique per command; makes the resulting events idempotent
    ticket_id: str
    action: ActionKind
    agent_id: str
    at: datetime
    text: str | None = None  # reply / note
    status: Status | None = None
    priority: Priority | None = None
    assignee: str | None = None
    target_ticket_id: str | None = None  # merge into / master ticket
    reason: str = ""
    extra: Extra = extra_field()
