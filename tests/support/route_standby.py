"""Two ``helpline worker route`` processes (active + warm standby) and what their output
says: the route settings that make SLA timers fall due within seconds, the health state a
worker reports, and the route's decisions and writers read back from the topics."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.events import TicketEvent
from schemas.route_events import Assigned
from schemas.stage import KafkaConnection
from tests.support import processes
from tests.support.kafka import Consumed

SESSION_TIMEOUT_MS = 6000  # the broker's lowest allowed: takeover after a kill -9 waits this
SLA_SECONDS = 18  # first response due this long after creation ("fast" policy below)
ROUTE_EVENT_KINDS = ("assigned", "queued", "unassigned", "escalated", "sla-applied",
                     "sla-warning", "sla-breached")


def start_route_worker(conn: KafkaConnection, instance: str, port: int) -> subprocess.Popen[bytes]:
    """``helpline worker route --instance-id INSTANCE``, configured through the environment
    as an SRE would: small batches (the kill lands mid-stream), timers looked at five times a
    second, one SLA policy whose first response falls due SLA_SECONDS after creation, and
    assignments that do not time out (no reclaim in the middle of the test)."""
    policy = {"name": "fast", "first_response_minutes": SLA_SECONDS / 60,
              "warn_before_minutes": 0}
    return processes.start_worker(conn, "route", instance, {
        "HELPLINE_RUNNER__BATCH_MAX_RECORDS": "2",
        "HELPLINE_RUNNER__SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
        "HELPLINE_OBSERVABILITY__HTTP_PORT": str(port),
        "HELPLINE_OBSERVABILITY__LOG_LEVEL": "WARNING",
        "HELPLINE_ROUTE__TICK_INTERVAL_S": "0.2",
        "HELPLINE_ROUTE__ACCEPT_TIMEOUT_MINUTES": "0",
        "HELPLINE_ROUTE__SLA_POLICIES": json.dumps([policy]),
    })


def stderr_of(proc: subprocess.Popen[bytes] | None) -> str:
    """What a stopped worker wrote to stderr (for assertion messages)."""
    if proc is None or proc.stderr is None or proc.poll() is None:
        return ""
    return proc.stderr.read().decode("utf-8", "replace")[-4000:]


def assignee(e: TicketEvent) -> str:
    """The agent an ``assigned`` event names."""
    assert isinstance(e.payload, Assigned), e
    return e.payload.agent_id


def writer(record: Consumed) -> bytes:
    return dict(record.headers).get("helpline-instance", b"")


@dataclass
class RouteLog:
    """The route stage's events on ``ticket.events``, one per event id (a redelivered copy
    must be the same event: checked here), with the instance that wrote each first."""

    events: dict[str, TicketEvent] = field(default_factory=dict)
    written_by: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[Consumed]) -> RouteLog:
        log = cls()
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            e = r.value
            if not isinstance(e, TicketEvent) or e.kind not in ROUTE_EVENT_KINDS:
                continue
            seen = log.events.setdefault(e.event_id, e)
            assert seen == e, f"two different events with id {e.event_id}: {seen} / {e}"
            log.written_by.setdefault(e.event_id, writer(r))
        return log

    def of_kind(self, kind: str) -> list[TicketEvent]:
        return [e for e in self.events.values() if e.kind == kind]

    def per_ticket(self, kind: str) -> dict[str, list[TicketEvent]]:
        out: dict[str, list[TicketEvent]] = {}
        for e in self.of_kind(kind):
            out.setdefault(e.ticket_id, []).append(e)
        return out


def writers_per_partition(records: Iterable[Consumed], stage: bytes) -> dict[int, list[bytes]]:
    """The instances of ``stage`` that wrote each partition, in log order."""
    out: dict[int, list[bytes]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        w = writer(r)
        if w.startswith(stage + b"/"):
            out.setdefault(r.partition, []).append(w)
    return out
