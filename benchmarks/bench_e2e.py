"""The whole pipeline, as users run it, against a bare aiokafka relay chain in the same run.

**helpline**: one Apache Kafka broker (runtime/kafka.py), the topics and demo rules made with
``helpline topics create`` / ``rules push``, and every worker as its own process exactly as
``helpline dev`` starts them (:func:`runtime.dev.workers`: normalize, tickets, classify, route,
notify, the SMTP receiver, the chat service and the ticket API), configured by
:func:`runtime.dev.write_config`. Distinct customers mail the SMTP receiver over SMTP (8
connections); a share of the offered load (``CHAT_SHARE``, 10 %) is chat over HTTP (a new
conversation and its first message). Each email's auto-acknowledgement is timed at an aiosmtpd
sink running in its own process (SMTP 250 of the receiver → ack delivered at the sink); a chat
ack goes back to the chat, so it is timed from the ``ack-sent`` event's broker timestamp. At
the end ``ticket.events`` is read once to check that every ticket was acknowledged exactly once.

**baseline**: the same shape with nothing of helpline in it: an aiosmtpd receiver producing
each mail to Kafka (250 once acknowledged), ``BASELINE_HOPS`` relay processes (bare aiokafka:
``getmany`` → orjson loads/dumps → ``send`` → wait for acks → commit), and a last process
sending each ack with aiosmtplib to the same sink: the same number of topics written on an
email's way, the same partitions, similar bytes.

Phases, each for both: idle (CPU of every process, no traffic), offered 20, 100 and 300 msg/s,
then ``max`` (as fast as the 8 SMTP connections go). Reported per phase: acks, msg/s accepted
and acked, latency p50/p95/p99; per process: CPU ms per message (``/proc/<pid>/stat`` utime +
stime, the broker included, the load generator and the sink reported apart), RSS.

The machine is shared (2 cores, other work running): absolute figures are noisy; the same-run
ratio to the baseline and the CPU per message are what to compare between runs.

Both stacks run on the one broker at once, and each load level is offered to helpline and
then straight away to the baseline, so that the two see the same machine.

Usage: python benchmarks/bench_e2e.py [--quick] [--skip-baseline] [--out FILE] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHAT_SHARE = 0.1  # of the offered load, chat over HTTP; the rest is email over SMTP
SMTP_CONNECTIONS = 8  # the load generator's concurrent SMTP sessions to the receiver
PARTITIONS = 2  # as `helpline dev`
# topics an email is written to on its way to its ack (raw.email, messages, ticket.events
# created, ticket.commands classified, ticket.events classified, ticket.commands assigned,
# ticket.events assigned): the baseline chain writes as many
BASELINE_HOPS = 7
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Plan:
    idle_s: float
    phase_s: float
    rates: tuple[int, ...]
    max_messages: int
    drain_s: float  # after the last mail of a phase, wait at most this for its acks


FULL = Plan(idle_s=30, phase_s=10, rates=(20, 100, 300), max_messages=1500, drain_s=60)
QUICK = Plan(idle_s=8, phase_s=4, rates=(20, 100, 300), max_messages=400, drain_s=25)


# -- /proc ------------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return float("nan")
    return round(pages * PAGE / 2**20, 1)


def cpu_all(procs: dict[str, int]) -> dict[str, float]:
    return {name: cpu_s(pid) for name, pid in procs.items()}


# -- the sink (its own process) ----------------------------------------------------------------


def run_sink(port: int, out: str) -> None:
    """aiosmtpd sink: one line per mail received, ``recipient<TAB>monotonic`` (CLOCK_MONOTONIC
    is system-wide on Linux, so the load generator compares it with its own)."""
    from aiosmtpd.controller import Controller

    log = open(out, "a", buffering=1)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            now = time.monotonic()
            for rcpt in envelope.rcpt_tos:
                log.write(f"{rcpt}\t{now}\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    while not stop:
        time.sleep(0.2)
    controller.stop()


def read_sink(path: Path) -> dict[str, list[float]]:
    seen: dict[str, list[float]] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().splitlines():
            rcpt, _, at = line.partition("\t")
            if at:
                seen.setdefault(rcpt.lower(), []).append(float(at))
    return seen


# -- the baseline chain (each role its own process) ---------------------------------------------


def run_base_in(bootstrap: str, port: int, topic: str) -> None:
    """aiosmtpd receiver: each mail produced (acks=all, idempotent) and answered 250 once the
    broker acknowledged it."""
    import orjson
    from aiokafka import AIOKafkaProducer
    from aiosmtpd.smtp import SMTP

    async def main() -> None:
        loop = asyncio.get_running_loop()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                    enable_idempotence=True, linger_ms=5)
        await producer.start()

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                value = orjson.dumps({"from": envelope.mail_from,
                                      "raw": envelope.content.decode("utf-8", "replace")})
                await producer.send_and_wait(topic, value, key=b"support")
                return "250 OK"

        server = await loop.create_server(lambda: SMTP(Handler()), "127.0.0.1", port)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()
        await producer.stop()

    asyncio.run(main())


def run_base_relay(bootstrap: str, src: str, dst: str) -> None:
    """One bare aiokafka hop: getmany → orjson → send → wait for acks → commit."""
    import orjson
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        consumer = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id=f"base-{src}",
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    isolation_level="read_committed")
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                    enable_idempotence=True, linger_ms=5)
        await consumer.start()
        await producer.start()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            futs = []
            for msgs in batch.values():
                for m in msgs:
                    rec = orjson.loads(m.value)
                    rec["hop"] = dst
                    futs.append(await producer.send(dst, orjson.dumps(rec), key=m.key))
            await asyncio.gather(*futs)
            if batch:
                await consumer.commit()
        await consumer.stop()
        await producer.stop()

    asyncio.run(main())


def run_base_out(bootstrap: str, src: str, sink_port: int) -> None:
    """The last hop: each record's ack mailed with aiosmtplib (a few pooled connections)."""
    import aiosmtplib
    import orjson
    from aiokafka import AIOKafkaConsumer

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        consumer = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id="base-out",
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        pool: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(4):
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink_port)
            await client.connect()
            pool.put_nowait(client)

        async def send(rec: dict[str, Any]) -> None:
            client = await pool.get()
            try:
                body = (f"From: support@example.com\r\nTo: {rec['from']}\r\n"
                        f"Subject: Re: your request\r\nAuto-Submitted: auto-replied\r\n\r\n"
                        "We received your message.\r\n")
                await client.sendmail("support@example.com", [rec["from"]], body)
            finally:
                pool.put_nowait(client)

        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            recs = [orjson.loads(m.value) for msgs in batch.values() for m in msgs]
            await asyncio.gather(*(send(r) for r in recs))
            if batch:
                await consumer.commit()
        await consumer.stop()

    asyncio.run(main())


# -- load ---------------------------------------------------------------------------------------


def email(customer: str, n: int) -> bytes:
    body = ("Hello,\r\n\r\nmy order has not arrived yet, and the tracking page has said "
            "'in transit' for a week now. Could you look into it and tell me when it will "
            "arrive? I attach nothing; the order number is in the subject.\r\n\r\n") * 4
    return (f"From: Customer {n} <{customer}>\r\nTo: Example Support <support@example.com>\r\n"
            f"Subject: Order {n} has not arrived\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.org>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


@dataclass
class PhaseLoad:
    """What the load generator did in one phase."""

    sent: dict[str, float] = field(default_factory=dict)  # email customer -> accepted at
    chats: dict[str, float] = field(default_factory=dict)  # chat customer -> accepted (wall)
    refused: int = 0
    started: float = 0.0
    ended: float = 0.0


async def offer(tag: str, smtp_port: int, chat_port: int | None, rate: float | None,
                count: int) -> PhaseLoad:
    """Send ``count`` messages at ``rate`` a second (None: as fast as the connections go)."""
    import aiosmtplib
    import httpx

    load = PhaseLoad()
    queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue(SMTP_CONNECTIONS * 4)

    async def smtp_worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, timeout=60)
        await client.connect()
        try:
            while (item := await queue.get()) is not None:
                customer, n = item
                try:
                    await client.sendmail(customer, ["support@example.com"], email(customer, n))
                    load.sent[customer] = time.monotonic()
                except aiosmtplib.SMTPException:
                    load.refused += 1
                    if not client.is_connected:
                        await client.connect()
        finally:
            with contextlib.suppress(Exception):
                await client.quit()

    async def chat(http: httpx.AsyncClient, customer: str, n: int) -> None:
        assert chat_port is not None
        base = f"http://127.0.0.1:{chat_port}/v1/sites/demo"
        origin = {"Origin": f"http://127.0.0.1:{chat_port}"}
        try:
            conv = (await http.post(f"{base}/conversations", headers=origin, json={
                "name": f"Visitor {n}", "email": customer, "locale": "en"})).json()
            r = await http.post(
                f"{base}/conversations/{conv['conversation_id']}/messages",
                headers={**origin, "Authorization": f"Bearer {conv['visitor_token']}"},
                json={"message_id": uuid.uuid4().hex, "text": f"Hi, order {n} is late.",
                      "name": f"Visitor {n}", "email": customer, "locale": "en"})
            r.raise_for_status()
            load.chats[customer] = time.time()
        except (httpx.HTTPError, KeyError, ValueError):
            load.refused += 1

    workers = [asyncio.create_task(smtp_worker()) for _ in range(SMTP_CONNECTIONS)]
    chat_tasks: list[asyncio.Task[None]] = []
    chat_every = round(1 / CHAT_SHARE) if chat_port is not None and CHAT_SHARE else 0
    async with httpx.AsyncClient(timeout=60) as http:
        load.started = time.monotonic()
        for i in range(count):
            if rate is not None:
                delay = load.started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if chat_every and i % chat_every == chat_every - 1:
                chat_tasks.append(asyncio.create_task(
                    chat(http, f"chat-{tag}-{i}@example.net", i)))
            else:
                await queue.put((f"cust-{tag}-{i}@example.org", i))
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers, *chat_tasks)
        load.ended = time.monotonic()
    return load


def pct(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 1)


async def wait_acks(sink_log: Path, load: PhaseLoad, timeout_s: float) -> dict[str, list[float]]:
    deadline = time.monotonic() + timeout_s
    want = set(load.sent)
    while True:
        seen = read_sink(sink_log)
        if want <= seen.keys() or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.25)


def phase_report(name: str, load: PhaseLoad, seen: dict[str, list[float]],
                 cpu_before: dict[str, float], cpu_after: dict[str, float],
                 offered: float | None) -> dict[str, Any]:
    lat = [seen[c][0] - at for c, at in load.sent.items() if c in seen]
    acked = len(lat)
    dupes = sum(len(seen[c]) - 1 for c in load.sent if c in seen)
    first = min(load.sent.values(), default=load.started)
    last_ack = max((seen[c][0] for c in load.sent if c in seen), default=load.ended)
    cpu = {p: cpu_after[p] - cpu_before[p] for p in cpu_before}
    msgs = max(acked + len(load.chats), 1)
    pipeline = [p for p in cpu if p not in ("load generator", "sink")]
    return {
        "phase": name,
        "offered_per_s": offered,
        "emails_accepted": len(load.sent),
        "chats_accepted": len(load.chats),
        "refused": load.refused,
        "accepted_per_s": round(len(load.sent) / max(load.ended - load.started, 1e-9), 1),
        "emails_acked": acked,
        "duplicate_acks": dupes,
        "acked_per_s": round(acked / max(last_ack - first, 1e-9), 1),
        "latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99),
                       "max": pct(lat, 100)},
        "cpu_ms_per_message": {p: round(v * 1000 / msgs, 2) for p, v in cpu.items()},
        "cpu_ms_per_message_total": round(sum(cpu[p] for p in pipeline) * 1000 / msgs, 2),
    }


# -- processes ----------------------------------------------------------------------------------


def spawn(role: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    from runtime.dev import _die_with_parent  # (none outlives the benchmark)

    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, __file__, "--role", role, *args],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)


def stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    from runtime.dev import stop_processes

    stop_processes(procs, 20)


def wait_port(port: int, timeout_s: float) -> None:
    from runtime.kafka import _port_open

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port} after {timeout_s:.0f}s")


@dataclass
class Stack:
    """One running system under load: where to send, what to watch."""

    name: str
    procs: dict[str, int]  # process name -> pid, the broker's included
    smtp_port: int
    chat_port: int | None
    sink_log: Path
    chats: dict[str, float] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)


async def warm_up(stack: Stack, plan: Plan) -> None:
    """Imports, the broker's JIT, group joins: not measured."""
    warm = await offer(f"{stack.name}-warm", stack.smtp_port, stack.chat_port, 20, 40)
    await wait_acks(stack.sink_log, warm, plan.drain_s)


PROFILE_RATE = 50  # py-spy samples a second (--nonblocking: the workers are not paused)
PROFILE_TOP = 12  # functions reported per process, by own time


def start_profiles(stack: Stack, seconds: float, out_dir: Path) -> list[tuple[str, Path,
                                                                             subprocess.Popen[bytes]]]:
    """py-spy on every Python process of the stack (not the broker, the load, the sink)."""
    spy = Path(sys.executable).with_name("py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    running = []
    for name, pid in stack.procs.items():
        if name in ("broker", "load generator", "sink"):
            continue
        path = out_dir / f"{name.replace(' ', '-')}.txt"
        running.append((name, path, subprocess.Popen(
            [str(spy), "record", "--nonblocking", "-r", str(PROFILE_RATE), "-d",
             str(int(seconds)), "-f", "raw", "-o", str(path), "-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    return running


def profile_summary(running: list[tuple[str, Path, subprocess.Popen[bytes]]]
                    ) -> dict[str, Any]:
    """Per process: the share of samples each function was on top of the stack (own time)."""
    out: dict[str, Any] = {}
    for name, path, proc in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        own: dict[str, int] = {}
        total = 0
        with contextlib.suppress(FileNotFoundError):
            for line in path.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                if not n.isdigit():
                    continue
                frame = stack.rsplit(";", 1)[-1]
                own[frame] = own.get(frame, 0) + int(n)
                total += int(n)
        top = sorted(own.items(), key=lambda kv: -kv[1])[:PROFILE_TOP]
        out[name] = {"samples": total, "own_time_share": {f: round(n / max(total, 1), 3)
                                                          for f, n in top}}
    return out


async def run_phase(stack: Stack, plan: Plan, rate: int | None,
                    profile_dir: Path | None = None) -> dict[str, Any]:
    tag = f"{stack.name}-{rate or 'max'}"
    count = int(rate * plan.phase_s) if rate else plan.max_messages
    before = cpu_all(stack.procs)
    profiles = start_profiles(stack, plan.phase_s * 2, profile_dir) if profile_dir else []
    load = await offer(tag, stack.smtp_port, stack.chat_port, rate, count)
    seen = await wait_acks(stack.sink_log, load, plan.drain_s)
    after = cpu_all(stack.procs)
    stack.chats.update(load.chats)
    report = phase_report(tag, load, seen, before, after, rate)
    if profiles:
        report["profile"] = profile_summary(profiles)
    stack.phases.append(report)
    print(json.dumps({k: report[k] for k in ("phase", "acked_per_s", "latency_ms",
                                             "cpu_ms_per_message_total")}), file=sys.stderr)
    return report


async def idle(procs: dict[str, int], seconds: float) -> dict[str, Any]:
    before = cpu_all(procs)
    await asyncio.sleep(seconds)
    after = cpu_all(procs)
    per = {p: round((after[p] - before[p]) / seconds * 100, 2) for p in procs}
    return {"seconds": seconds, "percent_of_a_core": per,
            "total_percent_of_a_core": round(sum(v for p, v in per.items()
                                                 if p not in ("load generator", "sink")), 2)}


async def chat_latencies(bootstrap: str, prefix: str, chats: dict[str, float]
                         ) -> dict[str, Any]:
    """Every ticket's ack-sent events (exactly once?), and the chat acks' latency from the
    ack-sent record's timestamp (wall clock, ms)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from schemas.codec import decoder
    from schemas.topics import TICKET_EVENTS

    decode = decoder(TICKET_EVENTS.value_type)
    name = f"{prefix}{TICKET_EVENTS.name}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    requester: dict[str, str] = {}
    acks: dict[str, list[int]] = {}
    ack_ids: dict[str, set[str]] = {}  # a redelivered ack-sent repeats its id: deduped
    seen_acks: dict[str, list[str]] = {}
    others: dict[str, None] = {}
    copies: dict[str, int] = {}
    try:
        await consumer._client.force_metadata_update()  # (as runtime.kafka_io.topic_status)
        tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for msgs in (await consumer.getmany(timeout_ms=500, max_records=10000)).values():
                for m in msgs:
                    if m.value is None:
                        continue
                    ev = decode(m.value)
                    if ev.kind == "created":
                        requester[ev.ticket_id] = ev.payload.requester.address.lower()
                    elif ev.kind == "ack-sent":
                        acks.setdefault(ev.ticket_id, []).append(m.timestamp)
                        copies[ev.event_id] = copies.get(ev.event_id, 0) + 1
                        if ev.payload.notification_id.startswith("ack-"):  # the auto-ack
                            ack_ids.setdefault(ev.ticket_id, set()).add(ev.event_id)
                        else:  # e.g. a chat reply mailed to a visitor who left
                            others[ev.payload.notification_id] = None
                        seen_acks.setdefault(ev.ticket_id, []).append(
                            f"{ev.event_id[:8]} {ev.payload.channel} "
                            f"{ev.payload.notification_id[:12]} p{m.partition}@{m.offset} "
                            f"{ev.at.isoformat()}")
    finally:
        await consumer.stop()
    lat = []
    for tid, stamps in acks.items():
        at = chats.get(requester.get(tid, ""))
        if at is not None:
            lat.append(stamps[0] / 1000 - at)
    return {"tickets": len(requester), "tickets_acked": len(acks),
            "tickets_auto_acked_more_than_once": sum(1 for s in ack_ids.values() if len(s) > 1),
            "other_notifications_sent": len(others),
            # the same ack-sent again (a redelivered batch's follow-ups: same id, deduped)
            "ack_sent_records_repeated": sum(n - 1 for n in copies.values()),
            "acked_more_than_once_examples": {
                t: seen_acks[t] for t in [t for t, s in ack_ids.items() if len(s) > 1][:3]},
            "chat_acked": len(lat), "chat_sent": len(chats),
            "chat_latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99)}}


@contextlib.contextmanager
def sink_process(tmp: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    from runtime.kafka import free_port

    port, path = free_port(), tmp / "sink.log"
    proc = spawn("sink", "--port", str(port), "--out", str(path), log=tmp / "sink.out")
    try:
        wait_port(port, 30)
        yield port, path, proc
    finally:
        stop_all([proc])


@contextlib.asynccontextmanager
async def helpline_stack(bootstrap: str, broker_pid: int, tmp: Path, prefix: str
                         ) -> AsyncIterator[Stack]:
    """Every worker as ``helpline dev`` starts it, its SMTP sink in a process of its own."""
    from runtime.dev import COMMANDS, DEMO, DevPorts, workers, write_config

    ports = DevPorts()
    with sink_process(tmp) as (sink_port, sink_log, sink):
        ports.smtp_sink = sink_port
        config = tmp / "helpline.toml"
        write_config(config, bootstrap, ports, prefix)
        # one replica per stage, as `helpline dev`; the run's partitions as the baseline's
        text = config.read_text().replace("partitions = 2", f"partitions = {PARTITIONS}")
        # every visitor comes from the load generator's one address: the per-address limits
        # that stop one abuser (10 conversations a minute) would refuse nearly all of them
        text += "".join(f"\n[chat.{limit}]\nper_minute = 1000000\nburst = 100000\n"
                        for limit in ("ip_conversations", "ip_messages"))
        config.write_text(text)
        cli = [sys.executable, "-m", "runtime.cli", "--config", str(config)]
        for step in (["topics", "create"], ["rules", "push", str(DEMO / "rules.toml")]):
            await asyncio.to_thread(subprocess.run, [*cli, *step], check=True,
                                    stdout=subprocess.DEVNULL)
        with workers(config, tmp / "logs", ports.health) as ps:
            from runtime.dev import wait_ready, worker_ready_urls  # as `helpline dev` waits

            not_ready = await asyncio.to_thread(wait_ready, worker_ready_urls(ports), 120)
            if not_ready:
                raise RuntimeError(f"workers not ready: {not_ready}; see {tmp / 'logs'}")
            procs = {"broker": broker_pid, "load generator": os.getpid(), "sink": sink.pid}
            for args, p in zip(COMMANDS, ps, strict=True):
                procs[args[1] if args[0] == "worker" else " ".join(args)] = p.pid
            yield Stack("helpline", procs, ports.smtp_receiver, ports.chat, sink_log)
            dead = [a[1] for a, p in zip(COMMANDS, ps, strict=True) if p.poll() is not None]
            if dead:
                raise RuntimeError(f"workers exited during the run: {dead}; see {tmp / 'logs'}")


@contextlib.asynccontextmanager
async def baseline_stack(bootstrap: str, broker_pid: int, tmp: Path) -> AsyncIterator[Stack]:
    """aiosmtpd in -> BASELINE_HOPS - 1 bare relays -> aiosmtplib out, each its own process."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from runtime.kafka import free_port

    run = uuid.uuid4().hex[:6]
    topics = [f"base{run}.t{i}" for i in range(BASELINE_HOPS)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics])
    await admin.close()
    smtp_port = free_port()
    with sink_process(tmp) as (sink_port, sink_log, sink):
        ps = [spawn("base-in", "--bootstrap", bootstrap, "--port", str(smtp_port),
                    "--topic", topics[0], log=tmp / "base-in.log")]
        for i in range(1, BASELINE_HOPS):
            ps.append(spawn("base-relay", "--bootstrap", bootstrap, "--src", topics[i - 1],
                            "--dst", topics[i], log=tmp / f"base-relay{i}.log"))
        ps.append(spawn("base-out", "--bootstrap", bootstrap, "--src", topics[-1],
                        "--port", str(sink_port), log=tmp / "base-out.log"))
        try:
            wait_port(smtp_port, 60)
            procs = {"broker": broker_pid, "load generator": os.getpid(), "sink": sink.pid,
                     "smtp in": ps[0].pid, "smtp out": ps[-1].pid}
            for i, p in enumerate(ps[1:-1], 1):
                procs[f"relay {i}"] = p.pid
            yield Stack("baseline", procs, smtp_port, None, sink_log)
        finally:
            stop_all(ps)


def ratios(h: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bp = {p["phase"].split("-", 1)[1]: p for p in b.get("phases", [])}
    for p in h.get("phases", []):
        level = p["phase"].split("-", 1)[1]
        base = bp.get(level)
        if base is None:
            continue
        r: dict[str, Any] = {}
        if base["acked_per_s"]:
            r["acked_per_s"] = round(p["acked_per_s"] / base["acked_per_s"], 3)
        for q in ("p50", "p99"):
            if p["latency_ms"][q] and base["latency_ms"][q]:
                r[f"latency_{q}"] = round(p["latency_ms"][q] / base["latency_ms"][q], 2)
        if base["cpu_ms_per_message_total"]:
            r["cpu_per_message"] = round(p["cpu_ms_per_message_total"]
                                         / base["cpu_ms_per_message_total"], 2)
        out[level] = r
    return out


async def main(plan: Plan, baseline: bool, profile_dir: Path | None) -> dict[str, Any]:
    """Both stacks up on one broker; each load level run on helpline, then at once on the
    baseline, so both see the same machine (it is shared: its load moves during a run)."""
    from runtime.kafka import running_cluster
    from runtime.settings import LocalKafkaSettings

    out: dict[str, Any] = {
        "benchmark": "end to end: SMTP/chat in -> ack at the SMTP sink",
        "chat_share": CHAT_SHARE, "smtp_connections": SMTP_CONNECTIONS,
        "partitions": PARTITIONS, "baseline_hops": BASELINE_HOPS,
        "broker": f"Apache Kafka {LocalKafkaSettings().version} (local, one node)",
        "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
        "plan": plan.__dict__,
    }
    prefix = f"e2e{int(time.time())}."
    with tempfile.TemporaryDirectory() as tmp_s, \
            running_cluster(LocalKafkaSettings(), Path(tmp_s) / "kafka", root=ROOT) as cluster:
        tmp = Path(tmp_s)
        pid = cluster.nodes[0].pid
        assert pid is not None
        (tmp / "h").mkdir()
        (tmp / "b").mkdir()
        async with contextlib.AsyncExitStack() as up:
            h = await up.enter_async_context(
                helpline_stack(cluster.bootstrap, pid, tmp / "h", prefix))
            b = (await up.enter_async_context(baseline_stack(cluster.bootstrap, pid, tmp / "b"))
                 if baseline else None)
            stacks = [h] if b is None else [h, b]
            await asyncio.sleep(5)  # restores, group joins
            for st in stacks:
                out[st.name] = {"idle": await idle(st.procs, plan.idle_s if st is h
                                                   else min(plan.idle_s, 10))}
            for st in stacks:
                await warm_up(st, plan)
            for rate in (*plan.rates, None):
                reports = [await run_phase(st, plan, rate, profile_dir if st is h and rate
                                           is None else None) for st in stacks]
                await asyncio.sleep(1)
                if reports[0]["emails_acked"] < reports[0]["emails_accepted"] // 2:
                    print(f"fewer than half acked at {rate}; no higher load", file=sys.stderr)
                    break
            for st in stacks:
                out[st.name]["phases"] = st.phases
                out[st.name]["rss_mb"] = {p: rss_mb(q) for p, q in st.procs.items()}
            out["helpline"]["exactly_once"] = await chat_latencies(cluster.bootstrap, prefix,
                                                                   h.chats)
        if b is not None:
            out["helpline_vs_baseline"] = ratios(out["helpline"], out["baseline"])
        out["load_average_at_end"] = os.getloadavg()[0]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a smoke run (~2 min)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy every worker during the max phase (raw stacks in DIR; "
                             "the top functions by own time in the JSON)")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--dst", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "sink":
        run_sink(args.port, args.out)
    elif args.role == "base-in":
        run_base_in(args.bootstrap, args.port, args.topic)
    elif args.role == "base-relay":
        run_base_relay(args.bootstrap, args.src, args.dst)
    elif args.role == "base-out":
        run_base_out(args.bootstrap, args.src, args.port)
    else:
        result = asyncio.run(main(QUICK if args.quick else FULL, not args.skip_baseline,
                                  Path(args.profile) if args.profile else None))
        text = json.dumps(result, indent=2)
        if args.out:
            Path(args.out).write_text(text + "\n")
        print(text)
