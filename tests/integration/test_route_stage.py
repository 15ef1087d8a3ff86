"""The route stage on a real Apache Kafka broker: a burst of tickets spread over agents
within capacity, the queue drained as capacity frees up, and an SLA timer that fires exactly
once although the worker is killed with SIGKILL while timers are due."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from route.config import RoutingConfig
from route.settings import DEFAULT_SLA_POLICIES
from route.stage import RouteStage
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.events import Actor
from schemas.route_events import Assigned, Queued, SlaBreached
from schemas.stage import KafkaConnection
from schemas.ticket_events import StatusChanged
from schemas.topics import AGENTS, ROUTE_STATE, TICKET_EVENTS
from tests.support.kafka import produce, read_to_end
from tests.support.route_builders import agent, classified, created, event
from tests.support.route_kafka import run_until, start_worker, worker_config

pytestmark = pytest.mark.integration

N_TICKETS = 40
CAPACITY = {"a1": 3, "a2": 5, "a3": 4}


async def _events(conn: KafkaConnection) -> list[object]:
    return [c.value for c in await read_to_end(conn, TICKET_EVENTS, timeout_s=30)]


def test_burst_is_spread_within_capacity_and_the_queue_drains(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn

    async def go() -> None:
        agents = [agent(a, capacity=c) for a, c in CAPACITY.items()]
        agents.append(agent("away", capacity=50, presence="away"))
        await produce(conn, AGENTS, [(a.agent_id.encode(), a) for a in agents])
        t0 = datetime.now(UTC).replace(microsecond=0)
        burst = []
        for i in range(N_TICKETS):
            tid = f"t{i:03d}"
            when = t0 + timedelta(seconds=i)
            burst += [created(tid, when), classified(tid, when)]
        await produce(conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in burst])

        stage = RouteStage(RoutingConfig(sla_policies=DEFAULT_SLA_POLICIES), tick_interval=0.2)
        runner = StageRunner(stage, conn, RunnerSettings(batch_timeout_ms=20))

        async def decided() -> bool:
            evs = await _events(conn)
            return sum(isinstance(getattr(e, "payload", None), Assigned | Queued)
                       for e in evs) >= N_TICKETS

        await run_until(runner, decided)
        evs = await _events(conn)
        assigned = [e for e in evs if isinstance(e.payload, Assigned)]  # type: ignore[attr-defined]
        queued = [e for e in evs if isinstance(e.payload, Queued)]  # type: ignore[attr-defined]
        per_agent = Counter(e.payload.agent_id for e in assigned)  # type: ignore[attr-defined]
        assert per_agent == Counter(CAPACITY)  # everyone full, nobody over, "away" got none
        assert len({e.ticket_id for e in assigned}) == sum(CAPACITY.values())  # type: ignore[attr-defined]
        assert len(queued) == N_TICKETS - sum(CAPACITY.values())
        states = await read_to_end(conn, ROUTE_STATE, timeout_s=30)
        assert len({c.key for c in states}) == N_TICKETS

        # a1 solves its tickets: the earliest-due queued tickets are assigned to a1
        mine = sorted(e.ticket_id for e in assigned if e.payload.agent_id == "a1")  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        solved = [event(t, StatusChanged(from_status="new", to_status="solved"), now,
                        Actor(kind="agent", id="a1")) for t in mine]
        await produce(conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in solved])
        waiting = sorted(e.ticket_id for e in queued)  # type: ignore[attr-defined]
        stage2 = RouteStage(RoutingConfig(sla_policies=DEFAULT_SLA_POLICIES), tick_interval=0.2)
        runner2 = StageRunner(stage2, conn, RunnerSettings(batch_timeout_ms=20))

        async def drained() -> bool:
            evs = await _events(conn)
            return sum(isinstance(getattr(e, "payload", None), Assigned) for e in evs) >= (
                sum(CAPACITY.values()) + len(mine))

        await run_until(runner2, drained)  # a restarted worker: state from route.state
        evs = await _events(conn)
        first_ids = {e.event_id for e in assigned}  # type: ignore[attr-defined]
        later = [e for e in evs if isinstance(e.payload, Assigned)  # type: ignore[attr-defined]
                 and e.event_id not in first_ids]  # type: ignore[attr-defined]
        assert sorted(e.ticket_id for e in later) == waiting[: len(mine)]  # type: ignore[attr-defined]
        assert {e.payload.agent_id for e in later} == {"a1"}  # type: ignore[attr-defined]

    asyncio.run(go())


ROUTE_FAST_SLA = """
tick_interval_s = 0.2
classify_wait_seconds = 0
accept_timeout_minutes = 0
[[route.sla_policies]]
name = "fast"
first_response_minutes = 0.25
warn_before_minutes = 0
"""


def test_sla_timer_fires_exactly_once_across_kill_9(kafka_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn
    config = worker_config(tmp_path / "route.toml", conn, ROUTE_FAST_SLA)
    log = tmp_path / "worker.log"
    n = 8
    # due times 6 s .. 20 s after "now": some fire before the kill, some after the restart
    t0 = datetime.now(UTC)
    tickets = [f"k{i}" for i in range(n)]
    creations = [created(t, t0 - timedelta(seconds=15 - 6 - 2 * i)) for i, t in
                 enumerate(tickets)]

    async def breaches() -> dict[str, list[object]]:
        out: dict[str, list[object]] = {}
        for e in await _events(conn):
            if isinstance(e.payload, SlaBreached):  # type: ignore[attr-defined]
                out.setdefault(e.ticket_id, []).append(e)  # type: ignore[attr-defined]
        return out

    asyncio.run(produce(conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in creations]))
    first = start_worker(config, log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not asyncio.run(breaches()):
            assert first.poll() is None, log.read_text()
            time.sleep(0.3)
        fired_before = asyncio.run(breaches())
        assert fired_before, log.read_text()
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    assert len(fired_before) < n, "all timers fired before the kill; the test proves nothing"

    second = start_worker(config, log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(asyncio.run(breaches())) < n:
            assert second.poll() is None, log.read_text()
            time.sleep(0.3)
        time.sleep(2)  # more ticks: nothing may fire again
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)

    fired = asyncio.run(breaches())
    assert sorted(fired) == tickets  # no timer lost
    for ticket, copies in fired.items():
        ids = {c.event_id for c in copies}  # type: ignore[attr-defined]
        assert len(ids) == 1, f"{ticket} breached {len(ids)} times"
        assert all(c == copies[0] for c in copies)  # a redelivered copy is the same event
