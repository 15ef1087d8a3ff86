"""The whole pipeline under faults (issue #17): a three-broker KRaft cluster on loopback (topics
created by ``helpline topics create``: replication 3, min.insync.replicas 2), every stage and
connector as a process of its own, customers writing by SMTP and chat all along, and while it
flows: each stage and connector killed with ``kill -9`` once (and started again, as a
supervisor would), a broker stopped and restarted, a broker frozen (SIGSTOP/SIGCONT), the
outbound SMTP server answering 4xx, then 5xx, then hanging.

At the end, from the topics and the SMTP sink: every accepted message on exactly one ticket,
every ticket acknowledged once (resends counted; acks refused for good by the 5xx phase are in
``dlq.notify``), no ticket event twice from the stages that write transactionally (tickets,
route) nor any ack-sent twice, every process ready again without a restart by hand. The table
of the run is printed (``pytest -s``; ``make test`` shows it on failure).

Run alone: ``pytest -m reliability -s``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from runtime.dev import DevPorts, write_config
from runtime.kafka import KafkaCluster, running_cluster
from runtime.settings import LocalKafkaSettings
from schemas.deadletter import DeadLetter
from schemas.events import TicketEvent
from schemas.stage import KafkaConnection
from schemas.topics import ALL, TICKET_EVENTS
from tests.support.kafka import read_to_end
from tests.support.notify_sink import SmtpSink
from tests.support.processes import REPO, helpline_env, run_cli
from tests.support.reliability import Customers, Fleet, marker_of

CHAT_FALLBACK = "chatmail-"  # ingest.chat.continuity.fallback_notification_id

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.timeout(900)]

STAGES = ("normalize", "tickets", "classify", "route", "notify")
CONNECTORS = ("smtp", "chat")
PREFIX = "rel."
RECOVER_S = 180  # the longest any one fault may take to heal before the test gives up
KILL_GAP_S = 4  # between two kills
DRAIN_S = 240  # after the last fault: every accepted message on a ticket, every ack decided
# events of the stages that write each batch and its offsets as one transaction: never twice
TRANSACTIONAL = {"created", "message-added", "status-changed", "merged", "reopened",
                 "assigned", "unassigned", "queued", "escalated", "sla-applied",
                 "sla-warning", "sla-breached", "ack-sent"}
# what the workers are told (besides the demo configuration `helpline dev` writes)
TUNING = {
    "HELPLINE_RUNNER__SESSION_TIMEOUT_MS": "6000",  # a killed replica's partitions move soon
    "HELPLINE_NOTIFY__SMTP__TIMEOUT_S": "5",  # a hanging relay is given up on in 5 s
    "HELPLINE_NOTIFY__MAX_ATTEMPTS": "40",  # 4xx and hangs are outlasted, not dead-lettered
    "HELPLINE_NOTIFY__RETRY_BACKOFF_S": "1",
    "HELPLINE_NOTIFY__RETRY_BACKOFF_MAX_S": "4",
}


@dataclass
class Fault:
    name: str
    recover_s: float
    note: str = ""


def wait(cond: Callable[[], object], what: str, timeout_s: float = RECOVER_S) -> float:
    started = time.monotonic()
    while not cond():
        assert time.monotonic() - started < timeout_s, what
        time.sleep(0.25)
    return time.monotonic() - started


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    with running_cluster(LocalKafkaSettings(heap="384m"), tmp_path / "kafka", size=3,
                         root=REPO) as c:
        yield c


async def _min_insync(conn: KafkaConnection) -> set[str]:
    admin = AIOKafkaAdminClient(**conn.options())
    await admin.start()
    try:
        res = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC,
                                                           conn.topic(s)) for s in ALL])
        return {str(v[1]) for r in res for t in r.resources for v in t[4]
                if v[0] == "min.insync.replicas"}
    finally:
        await admin.close()


def test_nothing_is_lost_or_doubled_and_everything_heals(cluster: KafkaCluster,
                                                         tmp_path: Path) -> None:
    conn = KafkaConnection(cluster.bootstrap, topic_prefix=PREFIX)
    ports = DevPorts()
    config = tmp_path / "helpline.toml"
    write_config(config, cluster.bootstrap, ports, PREFIX)
    created = run_cli(conn, "--config", str(config), "topics", "create")
    assert created.returncode == 0, created.stderr
    assert asyncio.run(_min_insync(conn)) == {"2"}  # replication 3 on three brokers

    faults: list[Fault] = []
    fleet = Fleet(config, helpline_env(conn, TUNING), tmp_path / "logs")
    fleet.log_dir.mkdir()
    customers = Customers(ports.smtp_receiver, ports.chat)
    with SmtpSink(port=ports.smtp_sink) as sink:
        try:
            for name in (*STAGES, *CONNECTORS):
                fleet.start(name)
            wait(fleet.all_ready, "every worker ready at start", 180)
            customers.start()
            wait(lambda: len(customers.accepted) >= 10, "first messages accepted")

            # kill -9 each one, a few seconds apart; the supervisor starts it again at once
            killed: dict[str, float] = {}
            healed: dict[str, float] = {}

            def all_healed() -> bool:
                for n in killed:
                    if n not in healed and fleet.ready(n):
                        healed[n] = time.monotonic() - killed[n]
                return len(healed) == len(killed)

            for name in (*STAGES, *CONNECTORS):
                killed[name] = time.monotonic()
                fleet.kill9(name)
                fleet.start(name)
                gap_ends = time.monotonic() + KILL_GAP_S
                while time.monotonic() < gap_ends:  # recovery times measured meanwhile
                    all_healed()
                    time.sleep(0.25)

            wait(all_healed, f"ready after kill -9: {sorted(set(killed) - set(healed))}")
            faults += [Fault(f"kill -9 {n}", healed[n]) for n in killed]

            started = time.monotonic()
            cluster.stop_node(2)
            time.sleep(10)
            cluster.restart(2)
            wait(fleet.all_ready, f"all ready after broker 2 restart: {fleet.not_ready()}")
            faults.append(Fault("stop + restart broker 2", time.monotonic() - started,
                                "10 s down"))

            started = time.monotonic()
            cluster.freeze(3)
            time.sleep(15)
            cluster.thaw(3)
            wait(fleet.all_ready, f"all ready after broker 3 thawed: {fleet.not_ready()}")
            faults.append(Fault("freeze broker 3 (SIGSTOP)", time.monotonic() - started,
                                "15 s frozen"))

            for mode, hold_s, delay in (("tempfail", 10, 0.0), ("permfail", 4, 0.0),
                                        ("slow", 10, 20.0)):
                before = len(sink.handler.received)
                started = time.monotonic()
                sink.set_mode(mode, delay_s=delay)
                time.sleep(hold_s)
                sink.set_mode("ok")
                wait(lambda b=before: len(sink.handler.received) > b,  # type: ignore[misc]
                     f"mail delivered again after the relay's {mode}")
                label = {"tempfail": "relay 451", "permfail": "relay 550",
                         "slow": "relay hangs"}[mode]
                faults.append(Fault(label, time.monotonic() - started, f"{hold_s} s"))

            customers.finish()
            assert not fleet.exited(), fleet.exited()
            outcome = _drain(conn, customers, sink)
            wait(fleet.all_ready, f"all ready at the end: {fleet.not_ready()}", 60)
        finally:
            customers.stop.set()
            fleet.stop()

    _print_table(customers, outcome, faults)
    assert not outcome.lost, f"accepted but on no ticket: {sorted(outcome.lost)[:10]}"
    assert not outcome.on_many, f"on more than one ticket: {sorted(outcome.on_many)[:10]}"
    assert not outcome.unacked, f"tickets never acknowledged: {sorted(outcome.unacked)[:10]}"
    assert not outcome.acked_twice, f"acknowledged twice: {outcome.acked_twice}"
    assert not outcome.twice_transactional, outcome.twice_transactional
    assert outcome.resent <= outcome.in_doubt_bound, (outcome.resent, outcome.in_doubt_bound)


@dataclass
class Outcome:
    tickets: int
    acks: int
    resent: int
    fallbacks: int
    in_doubt_bound: int
    lost: set[str]
    on_many: set[str]
    unacked: set[str]
    acked_twice: dict[str, int]
    twice_transactional: dict[str, int]
    twice_other: Counter[str]  # kind -> event ids seen twice (at-least-once stages)
    dlq: dict[str, int]
    sink_received: int
    sink_twice: int


def _read(conn: KafkaConnection) -> tuple[list[TicketEvent], dict[str, list[DeadLetter]]]:
    events = [c.value for c in asyncio.run(read_to_end(conn, TICKET_EVENTS, 60))
              if c.value is not None]
    dlq = {s.name: [c.value for c in asyncio.run(read_to_end(conn, s, 60))]
           for s in ALL if s.name.startswith("dlq.")}
    return events, dlq


def _drain(conn: KafkaConnection, customers: Customers, sink: SmtpSink) -> Outcome:
    deadline = time.monotonic() + DRAIN_S
    while True:
        outcome = _outcome(conn, customers, sink)
        if not (outcome.lost or outcome.unacked) or time.monotonic() > deadline:
            return outcome
        time.sleep(5)


def _outcome(conn: KafkaConnection, customers: Customers, sink: SmtpSink) -> Outcome:
    events, dlq = _read(conn)
    tickets_of: dict[str, set[str]] = {}
    for e in events:
        if e.kind == "message-added" and e.payload.direction == "inbound":
            marker = marker_of(e.payload.text)
            if marker is not None:
                tickets_of.setdefault(marker, set()).add(e.ticket_id)
    ours = {t for ts in tickets_of.values() for t in ts}
    acks = [e for e in events if e.kind == "ack-sent"]
    # a chat ack the visitor never saw (no widget open for left_after_s) is emailed to them:
    # a notification of its own (chatmail-…), counted apart
    fallbacks = sum(1 for e in acks if e.payload.notification_id.startswith(CHAT_FALLBACK))
    first_acks = Counter(e.ticket_id for e in acks if not e.payload.resent
                         and not e.payload.notification_id.startswith(CHAT_FALLBACK))
    resent = sum(1 for e in acks if e.payload.resent)
    refused_acks = {d.key.decode() for d in dlq.get("dlq.notify", []) if d.key}
    ids = Counter(e.event_id for e in events)
    kind_of = {e.event_id: e.kind for e in events}
    twice = {i: n for i, n in ids.items() if n > 1}
    received = sink.handler.counts()
    return Outcome(
        tickets=len(ours), acks=sum(first_acks.values()), resent=resent, fallbacks=fallbacks,
        in_doubt_bound=4 * 1,  # send_concurrency (4) per notify kill, one kill
        lost=set(customers.accepted) - set(tickets_of),
        on_many={m for m, ts in tickets_of.items() if len(ts) > 1},
        unacked=ours - {e.ticket_id for e in acks} - refused_acks,
        acked_twice={t: n for t, n in first_acks.items() if n > 1},
        twice_transactional={i: n for i, n in twice.items() if kind_of[i] in TRANSACTIONAL},
        twice_other=Counter(kind_of[i] for i in twice if kind_of[i] not in TRANSACTIONAL),
        dlq={k: len(v) for k, v in dlq.items() if v},
        sink_received=sum(received.values()),
        sink_twice=sum(1 for n in received.values() if n > 1),
    )


def _print_table(customers: Customers, o: Outcome, faults: list[Fault]) -> None:
    accepted = Counter(customers.accepted.values())
    rows = [
        ("sent (attempts)", f"email {customers.sent['email']}, chat {customers.sent['chat']}"),
        ("refused, then retried", f"email {customers.refused['email']}, "
                                  f"chat {customers.refused['chat']}"),
        ("accepted", f"{sum(accepted.values())} (email {accepted['email']}, "
                     f"chat {accepted['chat']})"),
        ("tickets", str(o.tickets)),
        ("acks (ack-sent, first)", str(o.acks)),
        ("resends (in doubt after the notify kill)", str(o.resent)),
        ("chat acks emailed (visitor had left)", str(o.fallbacks)),
        ("acks refused for good (5xx) -> dlq.notify", str(o.dlq.get("dlq.notify", 0))),
        ("mail at the sink / same Message-ID twice", f"{o.sink_received} / {o.sink_twice}"),
        ("duplicates: accepted on >1 ticket", str(len(o.on_many))),
        ("duplicates: event id twice (tickets, route, ack-sent)",
         str(len(o.twice_transactional))),
        ("duplicates: event id twice (at-least-once stages)",
         ", ".join(f"{k} {n}" for k, n in sorted(o.twice_other.items())) or "0"),
        ("lost (accepted, on no ticket)", str(len(o.lost))),
        ("unacknowledged tickets", str(len(o.unacked))),
        ("DLQ records", ", ".join(f"{k} {n}" for k, n in sorted(o.dlq.items())) or "0"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n== reliability run")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print("\n== time to recover per fault (from the fault to every worker ready / mail "
          "delivered again)")
    for f in faults:
        print(f"{f.name:<{width}}  {f.recover_s:6.1f} s  {f.note}")
