"""``helpline agents …``, ``helpline queue`` and ``helpline escalations`` (and its old spelling
``escalations report``) against the real broker, run as the command users type."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from route.config import RoutingConfig
from route.engine import Router
from route.settings import DEFAULT_SLA_POLICIES
from schemas.events import Actor
from schemas.route_events import Escalated
from schemas.stage import KafkaConnection
from schemas.topics import ROUTE_STATE, TICKET_EVENTS
from tests.support.kafka import produce
from tests.support.route_builders import T0, at, classified, created, event
from tests.support.route_kafka import REPO, worker_config

pytestmark = pytest.mark.integration
EXAMPLE = REPO / "route" / "examples" / "routing.toml"


def helpline(config: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    done = subprocess.run([sys.executable, "-m", "runtime.cli", "--config", str(config), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_agents_queue_and_escalation_report(kafka_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn
    config = worker_config(tmp_path / "helpline.toml", conn, "")

    assert "3 agents published" in helpline(config, "agents", "push", str(EXAMPLE))
    assert "bob: away" in helpline(config, "agents", "set-presence", "bob", "away")
    listed = {a["agent"]: a for a in json.loads(helpline(config, "agents", "list", "--json"))}
    assert set(listed) == {"alice", "bob", "carol"}
    assert listed["bob"]["presence"] == "away" and listed["alice"]["presence"] == "online"

    # two tickets waiting in support (nobody online), the urgent one due first
    router = Router(RoutingConfig(sla_policies=DEFAULT_SLA_POLICIES))
    for tid, priority in (("q-normal", "normal"), ("q-urgent", "urgent")):
        router.handle(created(tid, T0, priority=priority), T0)
        router.handle(classified(tid, T0), T0)
    states = [(k.encode(), s) for k, s in router.take_changed()]
    asyncio.run(produce(conn, ROUTE_STATE, states))
    rows = json.loads(helpline(config, "queue", "--json"))
    assert [r["ticket"] for r in rows] == ["Nq-urgent", "Nq-normal"]
    assert {r["team"] for r in rows} == {"support"}

    esc = Escalated(from_tier="L1", to_tier="L2", reason="tag outage", trigger="complexity")
    log = [classified("e1", at(1), tags=("outage",), category="network"),
           event("e1", esc, at(2), Actor(kind="system", id="route"), event_id="esc-1")]
    asyncio.run(produce(conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in log]))
    report = json.loads(helpline(config, "escalations", "report", "--json"))  # the old spelling
    assert report["total"] == 1
    assert report["by_tag"] == {"outage": 1} and report["by_category"] == {"network": 1}
    text = helpline(config, "escalations")
    assert "1 escalations on 1 tickets" in text
