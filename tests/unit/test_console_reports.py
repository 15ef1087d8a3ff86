"""Supervisor reports are pure folds over ticket events: totals equal the events, a replayed
or redelivered log gives the same report, and the figures are the ones a reader counts."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from console.report_tables import all_csv, tables, to_text
from console.reports import ReportFold, build_report, percentile
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
from tests.support.tickets_builders import T0

NOW = T0 + timedelta(days=8)
CHANNELS = ("email", "chat")


def _event(tid: str, n: int, minutes: float, payload: Any) -> TicketEvent:
    return TicketEvent(event_id=f"{tid}-{n}", ticket_id=tid, ticket_number=f"HL-{tid}",
                       at=T0 + timedelta(minutes=minutes), actor=Actor(kind="system"),
                       payload=payload)


def _reply(agent: str | None) -> MessageAdded:
    return MessageAdded(message_id="m", direction="outbound", channel="email",
                        author=Address(address="support@acme.test"), received_at=T0,
                        agent_id=agent)


# one ticket's story: (channel, created minute, steps), a step = (kind, minutes later, arg)
STEP = st.tuples(st.sampled_from(["reply", "ack", "solve", "reopen", "assign", "escalate",
                                  "sla", "breach"]),
                 st.integers(1, 600), st.sampled_from(["agent-1", "agent-2"]))
TICKET = st.tuples(st.sampled_from(CHANNELS), st.integers(0, 10_000), st.lists(STEP, max_size=6))


def _log(stories: list[tuple[str, int, list[tuple[str, int, str]]]]) -> list[list[TicketEvent]]:
    logs = []
    for i, (channel, start, steps) in enumerate(stories):
        tid = f"t{i}"
        at = float(start)
        status = "new"
        events = [_event(tid, 0, at, Created(
            number=f"HL-{tid}", subject="s", channel=channel, mailbox="support",  # type: ignore[arg-type]
            customer_id="c", requester=Address(address="c@example.com")))]
        for n, (kind, later, agent) in enumerate(steps, start=1):
            at += later
            payload: Any
            if kind == "reply":
                payload = _reply(agent)
            elif kind == "ack":
                payload = _reply(None)
            elif kind == "solve":
                payload, status = StatusChanged(from_status=status, to_status="solved"), "solved"  # type: ignore[arg-type]
            elif kind == "reopen":
                payload, status = StatusChanged(from_status=status, to_status="open"), "open"  # type: ignore[arg-type]
            elif kind == "assign":
                payload = Assigned(agent_id=agent, team="billing")
            elif kind == "escalate":
                payload = Escalated(from_tier="L1", to_tier="L2", reason="r", trigger="time")
            elif kind == "sla":
                payload = SlaApplied(policy="std")
            else:
                payload = SlaBreached(policy="std", metric="first-response", due_at=T0)
            events.append(_event(tid, n, at, payload))
        logs.append(events)
    return logs


def _interleave(logs: list[list[TicketEvent]], seed: int) -> list[TicketEvent]:
    """All events, tickets interleaved at random, each ticket's own order kept (as partitions
    deliver them)."""
    rng = random.Random(seed)
    queues = [list(log) for log in logs]
    out: list[TicketEvent] = []
    while any(queues):
        q = rng.choice([q for q in queues if q])
        out.append(q.pop(0))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(TICKET, max_size=12), st.integers(0, 1000))
def test_totals_equal_the_events(stories: list[Any], seed: int) -> None:
    logs = _log(stories)
    events = _interleave(logs, seed)
    r = build_report(events, NOW)
    created = [e for e in events if isinstance(e.payload, Created)]
    assert r["tickets"] == len(created) == sum(r["volume"]["by_channel"].values())
    assert sum(r["volume"]["by_day"].values()) == sum(r["busiest_hours"]) == len(created)
    assert sum(r["volume"]["by_category"].values()) == sum(r["volume"]["by_team"].values())
    assert r["events"] == len(events)
    assert r["escalations"]["total"] == sum(isinstance(e.payload, Escalated) for e in events)
    assert r["backlog"]["total"] == sum(r["backlog"]["by_status"].values()) == sum(
        r["backlog"]["by_age"].values())
    replies = sum(isinstance(e.payload, MessageAdded) and e.payload.agent_id is not None
                  for e in events)
    assert sum(a["replies"] for a in r["agents"].values()) == replies
    assert r["first_response"]["count"] <= len(created)


@settings(max_examples=60, deadline=None)
@given(st.lists(TICKET, max_size=12), st.integers(0, 1000), st.integers(0, 1000))
def test_a_replayed_log_gives_the_same_report(stories: list[Any], a: int, b: int) -> None:
    logs = _log(stories)
    once = build_report(_interleave(logs, a), NOW)
    # another interleaving, and the whole log delivered again (a replay / redelivery)
    twice = build_report(_interleave(logs, b) + _interleave(logs, a), NOW)
    assert once == twice
    fold = ReportFold()
    for e in _interleave(logs, b):
        fold.apply(e)
    assert fold.report(NOW) == once


def test_the_figures_of_a_small_week() -> None:
    logs = _log([
        ("email", 0, [("ack", 1, ""), ("reply", 9, "agent-1"), ("solve", 50, ""),
                      ("reopen", 60, ""), ("solve", 60, "")]),
        ("chat", 60, [("sla", 1, ""), ("reply", 29, "agent-2"), ("breach", 1, ""),
                      ("escalate", 1, "")]),
        ("email", 24 * 60, [("sla", 1, ""), ("assign", 1, "agent-2")]),
    ])
    r = build_report(_interleave(logs, 1), NOW)
    assert r["volume"]["by_channel"] == {"chat": 1, "email": 2}
    assert r["first_response"] == {"count": 2, "p50_s": 600.0, "p90_s": 1800.0}
    assert r["resolution"]["count"] == 1 and r["resolution"]["p50_s"] == 3600.0
    assert r["sla"] == {"tickets": 2, "breached": 1, "compliance_pct": 50.0}
    assert r["reopen"] == {"solved": 1, "reopened": 1, "rate_pct": 100.0}
    assert r["escalations"]["by_move"] == {"L1→L2": 1}
    assert r["backlog"]["by_status"] == {"new": 2}
    assert r["busiest_hours"][9] == 2 and r["busiest_hours"][10] == 1
    assert r["agents"]["agent-2"] == {"assigned": 1, "replies": 1, "open_now": 1,
                                      "first_response_p50_s": 1800.0}
    # a window that starts after the first ticket leaves it and its events out
    later = build_report(_interleave(logs, 1), NOW, since=T0 + timedelta(minutes=30))
    assert later["tickets"] == 2 and "agent-1" not in later["agents"]
    csv_text = all_csv(r)
    assert "# volume_by_channel\nchannel,tickets\nchat,1\nemail,2\n" in csv_text
    assert "== agents" in to_text(r) and set(tables(r)) >= {"busiest_hours", "agents"}


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([float(x) for x in range(1, 11)], 50) == 5.0
    assert percentile([float(x) for x in range(1, 11)], 90) == 9.0


def test_supervisors_get_charts_json_and_csv(tmp_path: Any) -> None:
    from tests.support.console_builders import Console, client, console_store, sign_in
    from tests.support.tickets_builders import email

    console = Console(console_store([email("r1", "a@example.com"), email("r2", "b@example.com",
                                                                           subject="Other")]))
    c = client(tmp_path, console)
    sign_in(c, "sup-1")
    page = c.get("/reports")
    assert page.status_code == 200
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js"' in page.text
    assert 'id="chart-channel"' in page.text and 'id="report-data"' in page.text
    assert c.get("/reports.json").json()["volume"]["by_channel"] == {"email": 2}
    one = c.get("/reports.csv?table=volume_by_channel")
    assert one.text == "channel,tickets\nemail,2\n"
    assert "attachment" in one.headers["content-disposition"]
    assert c.get("/reports.csv?table=nope").status_code == 404
    lib = c.get("/static/vendor/chartjs/chart.umd.min.js")
    assert lib.status_code == 200 and "Chart" in lib.text[:2000]
    assert c.get("/static/vendor/chartjs/LICENSE.md").text.startswith("The MIT License")


def test_report_windows_read_from_the_command_line() -> None:
    import pytest
    import typer

    from console.cli import parse_since

    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("12h", NOW) == NOW - timedelta(hours=12)
    assert parse_since("2026-03-01", NOW) == T0.replace(hour=0)
    with pytest.raises(typer.BadParameter):
        parse_since("last week", NOW)


def test_a_report_is_folded_again_when_events_arrive(tmp_path: Any) -> None:
    from tests.support.console_builders import Console, client, console_store, sign_in
    from tests.support.tickets_builders import email, events_of, feed, make_stage

    console = Console(console_store([email("f1", "a@example.com")]))
    c = client(tmp_path, console)
    sign_in(c, "sup-1")
    assert c.get("/reports.json").json()["tickets"] == 1
    for e in events_of(feed(make_stage(), [email("f2", "b@example.com", subject="New")])):
        console.store.apply_event(e)
    assert c.get("/reports.json").json()["tickets"] == 2
