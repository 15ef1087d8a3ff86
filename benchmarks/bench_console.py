"""The console's request-time work, same run, same data:

* ``report``: :class:`console.reports.ReportFold` over a synthetic event log (tickets created,
  replied, assigned, solved, some SLA-breached and escalated), against a baseline that only
  walks the same events and counts them by kind (the least any fold must do);
* ``queue``: :func:`console.queue.build_queue` over the tickets' current state for an agent in
  two teams, against a baseline that sorts the same tickets by a precomputed key.

Prints one JSON object (events/s, tickets/s, and each figure's ratio to its baseline).
Usage: python benchmarks/bench_console.py [--tickets N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from console.queue import build_queue
from console.reports import ReportFold
from schemas.directory import Agent
from schemas.events import (
    Actor,
    Assigned,
    Created,
    Escalated,
    MessageAdded,
    SlaApplied,
    SlaBreached,
    StatusChanged,
    TicketEvent,
)
from schemas.message import Address
from schemas.ticket import Ticket

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TEAMS = ("billing", "tech", "sales", "returns")


def events_and_tickets(n: int) -> tuple[list[TicketEvent], list[Ticket]]:
    events: list[TicketEvent] = []
    tickets: list[Ticket] = []
    who = Address(address="c@example.com")
    for i in range(n):
        tid, at = f"t{i}", T0 + timedelta(minutes=7 * i)
        agent = f"agent-{i % 20}"

        def ev(k: int, minutes: int, payload: object, tid: str = tid,
               at: datetime = at) -> TicketEvent:
            return TicketEvent(event_id=f"{tid}-{k}", ticket_id=tid, ticket_number=tid,
                               at=at + timedelta(minutes=minutes), actor=Actor(kind="system"),
                               payload=payload)  # type: ignore[arg-type]

        events += [
            ev(0, 0, Created(number=tid, subject="s", channel="email" if i % 3 else "chat",
                             mailbox="m", customer_id="c", requester=who)),
            ev(1, 1, SlaApplied(policy="std")),
            ev(2, 2, Assigned(agent_id=agent, team=TEAMS[i % 4])),
            ev(3, 30 + i % 90, MessageAdded(message_id=f"m{i}", direction="outbound",
                                            channel="email", author=who, received_at=at,
                                            agent_id=agent)),
        ]
        if i % 7 == 0:
            events.append(ev(4, 200, SlaBreached(policy="std", metric="resolution",
                                                 due_at=at)))
            events.append(ev(5, 201, Escalated(from_tier="L1", to_tier="L2", reason="time")))
        if i % 2 == 0:
            events.append(ev(6, 300, StatusChanged(from_status="open", to_status="solved")))
        tickets.append(Ticket(
            ticket_id=tid, number=tid, channel="email", mailbox="m", customer_id="c",
            requester=who, created_at=at, updated_at=at, status="open",
            team=TEAMS[i % 4], assignee=None if i % 3 else "agent-1",
            first_response_due=at + timedelta(hours=1 + i % 5)))
    return events, tickets


def timed(fn: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=20_000)
    args = parser.parse_args()
    events, tickets = events_and_tickets(args.tickets)
    now = T0 + timedelta(days=400)
    agent = Agent(agent_id="agent-1", teams=("billing", "tech"))

    fold_s = timed(lambda: ReportFold().apply_all(events).report(now))
    walk_s = timed(lambda: Counter(e.payload.TAG for e in events))
    queue_s = timed(lambda: build_queue(tickets, agent, T0, {}, limit=500))
    sort_s = timed(lambda: sorted(tickets, key=lambda t: (t.first_response_due, t.ticket_id)))
    print(json.dumps({
        "tickets": len(tickets), "events": len(events),
        "report": {"events_per_s": round(len(events) / fold_s),
                   "baseline_count_by_kind_events_per_s": round(len(events) / walk_s),
                   "ratio_to_baseline": round(walk_s / fold_s, 3),
                   "seconds": round(fold_s, 4)},
        "queue": {"tickets_per_s": round(len(tickets) / queue_s),
                  "baseline_sort_tickets_per_s": round(len(tickets) / sort_s),
                  "ratio_to_baseline": round(sort_s / queue_s, 3),
                  "seconds": round(queue_s, 4)},
    }, indent=2))


if __name__ == "__main__":
    main()
