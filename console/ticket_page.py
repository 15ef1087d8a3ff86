"""What the ticket page shows, computed from the ticket and its events. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from console.conversation import Parts, split_message
from console.queue import CLOSED
from schemas.classify_events import Classified
from schemas.events import (
    AckSent,
    Assigned,
    Created,
    DeliveryFailed,
    Escalated,
    Linked,
    Merged,
    MessageAdded,
    PriorityChanged,
    Queued,
    SlaApplied,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TicketEvent,
    Unassigned,
)
from schemas.ticket import Ticket

SUMMARY_CHARS = 160


@dataclass(frozen=True, slots=True)
class ShownMessage:
    message: MessageAdded
    parts: Parts


@dataclass(frozen=True, slots=True)
class Clock:
    metric: str
    due: datetime | None
    remaining_s: float | None
    state: str  # met / breached / warning / ok / none
    met_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryLine:
    at: datetime
    kind: str
    actor: str
    summary: str


def conversation(messages: Iterable[MessageAdded]) -> list[ShownMessage]:
    return [ShownMessage(m, split_message(m.text)) for m in messages]


def classification(events: Sequence[TicketEvent]) -> Classified | None:
    """The latest classification that says something (a follow-up's empty one does not hide
    the first)."""
    found: Classified | None = None
    for e in events:
        if isinstance(e.payload, Classified) and (
                found is None or e.payload.category or e.payload.matched_rules
                or e.payload.predictions):
            found = e.payload
    return found


def clocks(t: Ticket, now: datetime, warning_s: float) -> list[Clock]:
    out: list[Clock] = []
    for metric, due, met in (
        ("first-response", t.first_response_due, t.first_response_at),
        ("next-response", t.next_response_due, None),
        ("resolution", t.resolution_due, t.solved_at),
    ):
        if due is None and met is None:
            continue
        if met is not None:
            state = "breached" if metric in t.sla_breached else "met"
            out.append(Clock(metric, due, None, state, met))
            continue
        assert due is not None
        left = (due - now).total_seconds()
        if t.status in CLOSED:
            state = "none"
        elif left <= 0 or metric in t.sla_breached:
            state = "breached"
        elif left <= warning_s or metric in t.sla_warned:
            state = "warning"
        else:
            state = "ok"
        out.append(Clock(metric, due, left, state))
    return out


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[:SUMMARY_CHARS - 1] + "…"


def describe(e: TicketEvent) -> str:
    p = e.payload
    if isinstance(p, Created):
        return f"#{p.number} via {p.channel} ({p.mailbox}), priority {p.priority}"
    if isinstance(p, MessageAdded):
        who = p.agent_id or p.author.address or p.author.name
        return f"{p.direction} {p.channel} from {who}: {_clip(p.text)}"
    if isinstance(p, StatusChanged):
        return f"{p.from_status} → {p.to_status}" + (f" ({p.reason})" if p.reason else "")
    if isinstance(p, PriorityChanged):
        return f"{p.from_priority} → {p.to_priority}" + (f" ({p.reason})" if p.reason else "")
    if isinstance(p, Assigned):
        return f"to {p.agent_id}" + (f", team {p.team}" if p.team else "") + (
            f" ({p.strategy or p.reason})" if p.strategy or p.reason else "")
    if isinstance(p, Unassigned):
        return f"from {p.agent_id}" + (f" ({p.reason})" if p.reason else "")
    if isinstance(p, Queued):
        return f"team {p.team}" + (f" ({p.reason})" if p.reason else "")
    if isinstance(p, Escalated):
        return f"{p.from_tier} → {p.to_tier}: {p.reason}" + (f" [{p.trigger}]" if p.trigger else "")
    if isinstance(p, Classified):
        bits = [f"{k}={v}" for k, v in (("category", p.category), ("team", p.team),
                                          ("priority", p.priority), ("language", p.language))
                if v]
        return ", ".join(bits) or "no label"
    if isinstance(p, SlaApplied):
        return f"policy {p.policy}"
    if isinstance(p, SlaWarning | SlaBreached):
        return f"{p.metric} due {p.due_at.isoformat(timespec='minutes')} ({p.policy})"
    if isinstance(p, Merged):
        return f"into #{p.into_number}"
    if isinstance(p, Linked):
        return f"{p.relation} #{p.other_number}"
    if isinstance(p, DeliveryFailed):
        return f"to {p.recipient or '?'}: {p.status or ''} {_clip(p.diagnostic or '')}".strip()
    if isinstance(p, AckSent):
        return "acknowledgement sent"
    return e.kind


def history(events: Iterable[TicketEvent]) -> list[HistoryLine]:
    return [HistoryLine(e.at, e.kind, f"{e.actor.kind}:{e.actor.id}" if e.actor.id
                        else e.actor.kind, describe(e)) for e in events]
