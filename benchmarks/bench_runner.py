"""One topic hop on a real Apache Kafka broker, four ways, same records, same run:

* ``bare``: aiokafka ``getmany`` → orjson → ``send`` → commit (the baseline);
* ``batched``: the same with the runner's producer path (``BatchSender``, one batch in flight),
  a second, stronger baseline;
* ``runner``: helpline's StageRunner with a pass-through stage (full decode into the frozen
  record and re-encode, as every stage pays);
* ``faust``: a faust-streaming agent relaying the same records (``take_events`` + ``send_soon``,
  the tuned settings of STYLE.md).

Prints one JSON object: steady-state records/s of each (from the first record out to the
last; start-up and group joins excluded for all) and the ratios to the bare and batched relays.
Usage: python benchmarks/bench_runner.py [--records N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer  # noqa: E402

from benchmarks import relay  # noqa: E402
from runtime.kafka import running_cluster  # noqa: E402
from runtime.kafka_io import create_topics, make_producer  # noqa: E402
from runtime.runner import StageRunner  # noqa: E402
from runtime.settings import LocalKafkaSettings, RunnerSettings  # noqa: E402
from schemas.codec import encode  # noqa: E402
from schemas.message import Address, InboundMessage  # noqa: E402
from schemas.stage import In, KafkaConnection, Out, Stage  # noqa: E402
from schemas.topics import MESSAGES, RAW_CHAT, TopicSpec  # noqa: E402

PARTITIONS = 4


def _record(i: int) -> InboundMessage:
    return InboundMessage(
        message_id=f"m{i}", channel="email", mailbox="support", subject=f"Order {i} late",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        sender=Address(name="Ada Lovelace", address=f"ada{i % 500}@example.org"),
        text="Bonjour, ma commande n'est toujours pas arrivée. " * 14,
    )


class PassThrough(Stage):
    name = "bench"
    inputs: tuple[TopicSpec, ...] = (MESSAGES,)
    tables: tuple[TopicSpec, ...] = ()
    tick_interval: float | None = None

    def restore(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        pass

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        return [Out(RAW_CHAT, r.key or b"", r.value) for r in batch]

    def tick(self, now: datetime) -> list[Out]:
        return []


async def _fill(conn: KafkaConnection, topic: str, n: int) -> None:
    producer = make_producer(conn, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        payloads = [encode(_record(i)) for i in range(n)]
        futs = [await producer.send(topic, p, key=f"k{i % 97}".encode())
                for i, p in enumerate(payloads)]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


async def _count(conn: KafkaConnection, topic: str, n: int, timeout_s: float) -> float:
    """Wait until ``n`` records are on ``topic``; returns the steady-state rate: records after
    the first batch seen, over the time from that batch to the last (start-up excluded)."""
    consumer = AIOKafkaConsumer(topic, **conn.options(), group_id=f"count-{uuid.uuid4().hex}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen = 0
    first_at = first_n = None
    deadline = time.monotonic() + timeout_s
    try:
        while seen < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=50, max_records=10000)
            seen += sum(len(v) for v in batch.values())
            if seen and first_at is None:
                first_at, first_n = time.monotonic(), seen
        if seen < n or first_at is None or first_n is None:
            raise RuntimeError(f"only {seen} of {n} records arrived")
        return (n - first_n) / (time.monotonic() - first_at)
    finally:
        await consumer.stop()


async def bare_relay(conn: KafkaConnection, src: str, dst: str, n: int) -> float:
    """The bare relay, watched by the same in-process observer as the runner."""
    task = asyncio.create_task(relay.bare_relay(conn, src, dst, n))
    rate = await _count(conn, dst, n, timeout_s=300)
    await task
    return rate


async def batched_relay(conn: KafkaConnection, src: str, dst: str, n: int) -> float:
    """The stronger baseline (the runner's producer path, no helpline records), same observer."""
    task = asyncio.create_task(relay.batched_relay(conn, src, dst, n))
    rate = await _count(conn, dst, n, timeout_s=300)
    await task
    return rate


async def runner_relay(conn: KafkaConnection, n: int) -> float:
    stop = asyncio.Event()
    runner = StageRunner(PassThrough(), conn, RunnerSettings(batch_max_records=2000,
                                                             batch_timeout_ms=20))
    task = asyncio.create_task(runner.run(stop))
    rate = await _count(conn, conn.topic(RAW_CHAT), n, timeout_s=300)
    stop.set()
    await task
    return rate


def _faust_worker(bootstrap: str, src: str, dst: str, data_dir: str) -> None:
    import faust

    app = faust.App(f"bench-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}",
                    value_serializer="raw", key_serializer="raw", datadir=data_dir,
                    stream_wait_empty=False, broker_max_poll_records=5000,
                    stream_buffer_maxsize=16384, topic_allow_declare=False,
                    topic_disable_leader=True, web_enabled=False)
    src_t = app.topic(src, value_type=bytes, key_type=bytes)
    dst_t = app.topic(dst, value_type=bytes, key_type=bytes)

    @app.agent(src_t)
    async def relay(stream: Any) -> None:
        import orjson

        async for events in stream.take_events(1000, within=0.02):
            for ev in events:
                dst_t.send_soon(key=ev.key, value=orjson.dumps(orjson.loads(ev.value)))

    sys.argv = ["bench", "worker", "-l", "warn", "--without-web"]
    app.main()


async def faust_relay(conn: KafkaConnection, src: str, dst: str, n: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as data_dir:
        proc = ctx.Process(target=_faust_worker, args=(conn.bootstrap_servers, src, dst,
                                                       data_dir), daemon=True)
        proc.start()
        try:
            rate = await _count(conn, dst, n, timeout_s=300)
        finally:
            proc.terminate()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return rate


async def main(n: int, with_faust: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": "one topic hop", "records": n,
                           "record_bytes": len(encode(_record(0))), "partitions": PARTITIONS,
                           "broker": f"Apache Kafka {LocalKafkaSettings().version} (local)"}
    with tempfile.TemporaryDirectory() as tmp, \
            running_cluster(LocalKafkaSettings(heap="1g"), Path(tmp), root=ROOT) as cluster:
        conn = KafkaConnection(bootstrap_servers=cluster.bootstrap, topic_prefix="b.")
        await create_topics(conn, partitions=PARTITIONS)
        src = conn.topic(MESSAGES)
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("bare.out", PARTITIONS, 1),
                                   NewTopic("batched.out", PARTITIONS, 1),
                                   NewTopic("warm.out", PARTITIONS, 1),
                                   NewTopic("faust.out", PARTITIONS, 1)])
        await admin.close()
        await _fill(conn, src, n)
        # Warm-up hop so that the first measured run does not pay broker JIT/page cache.
        await relay.bare_relay(conn, src, "warm.out", min(n, 5000))
        out["bare_relay_per_s"] = round(await bare_relay(conn, src, "bare.out", n))
        out["runner_per_s"] = round(await runner_relay(conn, n))
        out["runner_vs_bare"] = round(out["runner_per_s"] / out["bare_relay_per_s"], 3)
        out["batched_relay_per_s"] = round(await batched_relay(conn, src, "batched.out", n))
        out["runner_vs_batched_relay"] = round(out["runner_per_s"] / out["batched_relay_per_s"],
                                               3)
        if with_faust:
            try:
                out["faust_per_s"] = round(await faust_relay(conn, src, "faust.out", n))
                out["faust_vs_bare"] = round(out["faust_per_s"] / out["bare_relay_per_s"], 3)
            except Exception as exc:  # reported, not hidden
                out["faust_error"] = f"{type(exc).__name__}: {exc}"
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--no-faust", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.records, not args.no_faust)), indent=2))
