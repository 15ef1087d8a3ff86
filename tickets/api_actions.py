"""Agent actions over HTTP: the JSON body an external helpdesk or an agent tool POSTs, checked
and turned into the same :class:`~schemas.commands.AgentAction` the CLI puts on
``ticket.commands``.

    POST /tickets/{id or number}/actions
    Authorization: Bearer <tickets.api_token>
    Idempotency-Key: <any string, optional>      # a retried POST queues the same command once
    {"action": "reply", "agent": "agent-7", "text": "On it", "status": "pending"}

Pure: the caller gives the resolved ticket id, the clock and the idempotency key.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, cast, get_args

from schemas.commands import ActionKind, AgentAction
from schemas.errors import HelplineError
from schemas.ticket_events import Priority, Status

ACTIONS = frozenset(get_args(ActionKind))
STATUSES = frozenset(get_args(Status))
PRIORITIES = frozenset(get_args(Priority))
MAX_TEXT_CHARS = 100_000
MAX_FIELD_CHARS = 200

# What each action needs besides ``agent``; the rest of the body is optional.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "reply": ("text",), "note": ("text",), "set-status": ("status",),
    "set-priority": ("priority",), "assign": ("assignee",), "merge": ("target",),
    "link-master": ("target",), "escalate": (),
}
_KNOWN = frozenset({"action", "agent", "text", "status", "priority", "assignee", "target",
                    "reason"})


class ActionRejected(HelplineError, ValueError):
    """The body is not an action we can queue; the message is safe to show to the caller."""


def command_id(ticket_id: str, idempotency_key: str | None) -> str:
    """The same key on the same ticket always names the same command, so the stage applies a
    retried POST once."""
    if idempotency_key is None:
        return f"http-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{ticket_id}\n{idempotency_key}".encode()).hexdigest()
    return f"http-{digest[:32]}"


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ActionRejected(f"{name} must be a string")
    if len(value) > limit:
        raise ActionRejected(f"{name} is longer than {limit} characters")
    return value


def parse_action(body: object, ticket_id: str, now: datetime,
                 idempotency_key: str | None = None) -> AgentAction:
    """The action in ``body`` for ``ticket_id``, or :class:`ActionRejected` saying why not."""
    if not isinstance(body, dict):
        raise ActionRejected("the body must be a JSON object")
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise ActionRejected(f"unknown field {unknown[0]!r}")
    given = body.get("action")
    if not isinstance(given, str) or given not in ACTIONS:
        raise ActionRejected(f"action must be one of {', '.join(sorted(ACTIONS))}")
    action = cast(ActionKind, given)
    agent = _text(body, "agent", MAX_FIELD_CHARS)
    if not agent or not agent.strip():
        raise ActionRejected("agent is required (who acts)")
    fields = {name: _text(body, name, MAX_TEXT_CHARS if name == "text" else MAX_FIELD_CHARS)
              for name in ("text", "status", "priority", "assignee", "target", "reason")}
    for name in _REQUIRED[action]:
        if not fields[name] and not (action == "assign" and name in body):
            raise ActionRejected(f"{action} needs {name}")
    status, priority = fields["status"], fields["priority"]
    if status is not None and status not in STATUSES:
        raise ActionRejected(f"unknown status {status!r}")
    if priority is not None and priority not in PRIORITIES:
        raise ActionRejected(f"unknown priority {priority!r}")
    return AgentAction(
        command_id=command_id(ticket_id, idempotency_key), ticket_id=ticket_id, action=action,
        agent_id=agent.strip(), at=now, text=fields["text"],
        status=status,  # type: ignore[arg-type]  # checked against Status above
        priority=priority,  # type: ignore[arg-type]  # checked against Priority above
        assignee=fields["assignee"] or None, target_ticket_id=fields["target"],
        reason=fields["reason"] or "",
    )
