"""Routing throughput, same run, one JSON object:

* ``pure``: assignment decisions per second (:func:`route.policy.choose_agent`, a 50-agent
  team with skills, languages, loads), and the whole router (:class:`route.engine.Router`) on
  ticket events (created + classified: SLA applied, routed or queued), against the baseline of
  decoding + encoding the same events (what any stage pays per record).
* ``stage`` (unless ``--no-broker``): the route stage under helpline's StageRunner on a real
  Apache Kafka broker vs a bare aiokafka relay of the same records (getmany → orjson → send →
  commit), input records per second.

Usage: python benchmarks/bench_route.py [--tickets N] [--no-broker] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from benchmarks.relay import bare_relay  # noqa: E402
from route.alerts import ROUTE_ACTOR_ID  # noqa: E402
from route.config import RoutingConfig  # noqa: E402
from route.engine import Router  # noqa: E402
from route.model import AgentView, Team  # noqa: E402
from route.policy import Need, choose_agent  # noqa: E402
from route.settings import DEFAULT_SLA_POLICIES  # noqa: E402
from route.stage import RouteStage  # noqa: E402
from schemas.classify_events import Classified  # noqa: E402
from schemas.codec import decode, encode  # noqa: E402
from schemas.directory import Agent  # noqa: E402
from schemas.events import Actor, TicketEvent  # noqa: E402
from schemas.message import Address  # noqa: E402
from schemas.stage import KafkaConnection  # noqa: E402
from schemas.ticket_events import Created  # noqa: E402
from schemas.topics import AGENTS, TICKET_EVENTS  # noqa: E402

PARTITIONS = 4
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SKILLS = ("billing", "refund", "login", "sso", "outage", "shipping", "api", "mobile")
LANGS = ("en", "fr", "de", "es")
TEAMS = ("support", "billing", "l2")


def _agents(n: int, capacity: int) -> list[Agent]:
    rnd = random.Random(7)
    return [
        Agent(agent_id=f"agent{i:03d}", teams=(TEAMS[i % 3], "support"), presence="online",
              skills=tuple(rnd.sample(SKILLS, 3)), languages=tuple(rnd.sample(LANGS, 2)),
              capacity={"*": capacity}, email=f"agent{i}@example.com")
        for i in range(n)
    ]


def _events(n: int) -> list[TicketEvent]:
    rnd = random.Random(11)
    out = []
    for i in range(n):
        tid = f"bench-{i:06d}"
        at = T0 + timedelta(seconds=i)
        out.append(TicketEvent(
            event_id=f"{tid}-c", ticket_id=tid, ticket_number=str(i), at=at,
            actor=Actor(kind="system", id="tickets"),
            payload=Created(number=str(i), subject="Order late", channel="email",
                            mailbox="support@example.com", customer_id=f"c{i % 700}",
                            requester=Address(address=f"c{i % 700}@example.org"),
                            priority=rnd.choice(("low", "normal", "high", "urgent"))),
        ))
        out.append(TicketEvent(
            event_id=f"{tid}-k", ticket_id=tid, ticket_number=str(i), at=at,
            actor=Actor(kind="rule", id="rules"),
            payload=Classified(category=rnd.choice(SKILLS), tags=tuple(rnd.sample(SKILLS, 2)),
                               team=rnd.choice(TEAMS), language=rnd.choice(LANGS),
                               sentiment=rnd.choice(("neutral", "negative", "positive"))),
        ))
    return out


def _config() -> RoutingConfig:
    return RoutingConfig(
        teams={t: Team(t, match_skills=True, sticky=True) for t in TEAMS},
        sla_policies=DEFAULT_SLA_POLICIES,
    )


def bench_pure(n_tickets: int) -> dict[str, Any]:
    agents = _agents(50, 10)
    rnd = random.Random(3)
    views = [AgentView(a, Counter({"email": rnd.randint(0, 9)})) for a in agents]
    team = Team("support", match_skills=True, sticky=True)
    needs = [Need(ticket_id=str(i), channel="email", language=rnd.choice(LANGS),
                  skills=frozenset(rnd.sample(SKILLS, 2)), previous_agent=f"agent{i % 80:03d}")
             for i in range(2000)]
    decisions = 0
    started = time.perf_counter()
    while time.perf_counter() - started < 2.0:
        for need in needs:
            choose_agent(team, need, views, T0, default_capacity=5)
        decisions += len(needs)
    decisions_per_s = decisions / (time.perf_counter() - started)

    events = _events(n_tickets)
    wire = [encode(e) for e in events]
    started = time.perf_counter()
    for raw in wire:
        encode(decode(TicketEvent, raw))
    codec_per_s = len(wire) / (time.perf_counter() - started)

    router = Router(_config())
    for a in _agents(50, 10):
        router.set_agent(a.agent_id, a)
    started = time.perf_counter()
    emitted = 0
    for raw in wire:
        out = router.handle(decode(TicketEvent, raw), T0)
        for e in out:
            encode(e)
        emitted += len(out)
        for _, s in router.take_changed():
            encode(s)
    router_per_s = len(wire) / (time.perf_counter() - started)
    held = Counter(s.assignee for s in router.tickets.values() if s.assignee)
    return {
        "policy_decisions_per_s": round(decisions_per_s),
        "router_events_per_s": round(router_per_s),
        "baseline_decode_encode_per_s": round(codec_per_s),
        "router_vs_codec": round(router_per_s / codec_per_s, 3),
        "router_outputs": emitted,
        "queued_at_end": sum(len(q) for q in router.queues.values()),
        "max_agent_load": max(held.values(), default=0),
    }


async def _fill(conn: KafkaConnection, events: list[TicketEvent]) -> None:
    from runtime.kafka_io import make_producer

    producer = make_producer(conn, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        futs = [await producer.send(conn.topic(TICKET_EVENTS), encode(e),
                                    key=e.ticket_id.encode()) for e in events]
        await asyncio.gather(*futs)
        agents = [await producer.send(conn.topic(AGENTS), encode(a), key=a.agent_id.encode())
                  for a in _agents(50, 10)]
        await asyncio.gather(*agents)
    finally:
        await producer.stop()


class CountingRouteStage(RouteStage):
    """The route stage, counting records it finished and outputs it handed to the runner."""

    def __init__(self, cfg: RoutingConfig) -> None:
        super().__init__(cfg, tick_interval=1.0)
        self.done = 0
        self.outs = 0

    def process(self, batch, now):  # type: ignore[no-untyped-def]
        out = super().process(batch, now)
        # ticket.events also carries this stage's own outputs: count only the input
        self.done += sum(1 for r in batch if r.value.actor.id != ROUTE_ACTOR_ID)
        self.outs += len(out)
        return out

    def tick(self, now):  # type: ignore[no-untyped-def]
        out = super().tick(now)
        self.outs += len(out)
        return out


async def stage_run(conn: KafkaConnection, n: int) -> tuple[float, dict[str, int]]:
    from runtime.runner import StageRunner
    from runtime.settings import RunnerSettings

    stage = CountingRouteStage(_config())
    runner = StageRunner(stage, conn, RunnerSettings(batch_max_records=2000,
                                                     batch_timeout_ms=20))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        # table restore and the consumer group join are not counted: the clock starts at the
        # first consumed record (the bare relay's group was warmed by its warm-up run)
        while runner.status.records_in == 0:
            if task.done():
                task.result()
            await asyncio.sleep(0.002)
        started = time.monotonic()
        deadline = started + 300
        # done: every input processed and every output it produced acknowledged by the broker
        while (stage.done < n or runner.status.records_out < stage.outs) \
                and time.monotonic() < deadline:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        await task
    held = Counter(s.assignee for s in stage.router.tickets.values() if s.assignee)
    return n / elapsed, {"queued_at_end": sum(len(q) for q in stage.router.queues.values()),
                         "assigned_at_end": sum(held.values()),
                         "max_agent_load": max(held.values(), default=0),
                         "outputs": runner.status.records_out}


async def bench_stage(n_tickets: int, bootstrap: str | None) -> dict[str, Any]:
    from runtime.kafka import running_cluster
    from runtime.kafka_io import create_topics
    from runtime.settings import LocalKafkaSettings

    events = _events(n_tickets)

    async def on(server: str, label: str) -> dict[str, Any]:
        conn = KafkaConnection(bootstrap_servers=server,
                               topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
        await create_topics(conn, partitions=PARTITIONS)
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=server)
        await admin.start()
        await admin.create_topics([NewTopic(conn.topic_prefix + "bare.out", PARTITIONS, 1)])
        await admin.close()
        await _fill(conn, events)
        src = conn.topic(TICKET_EVENTS)
        await bare_relay(conn, src, conn.topic_prefix + "bare.out", min(len(events), 2000))
        bare = (await bare_relay(conn, src, conn.topic_prefix + "bare.out",
                                 len(events))).from_start_per_s
        stage_per_s, final = await stage_run(conn, len(events))
        return {"broker": label, "input_records": len(events),
                "partitions": PARTITIONS, "bare_relay_per_s": round(bare),
                "route_stage_per_s": round(stage_per_s),
                "route_vs_bare": round(stage_per_s / bare, 3), **final,
                "clock": "first consumed record to last output acknowledged "
                         "(group join excluded)"}

    if bootstrap:
        return await on(bootstrap, f"external {bootstrap}")
    with tempfile.TemporaryDirectory() as tmp, \
            running_cluster(LocalKafkaSettings(heap="512m"), Path(tmp), root=ROOT) as cluster:
        return await on(cluster.bootstrap,
                        f"Apache Kafka {LocalKafkaSettings().version} (local, started here)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--no-broker", action="store_true")
    parser.add_argument("--bootstrap", default=None, help="use a running broker")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "route", "tickets": args.tickets,
                              "agents": 50, "pure": bench_pure(args.tickets)}
    if not args.no_broker:
        result["stage"] = asyncio.run(bench_stage(args.tickets, args.bootstrap))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
