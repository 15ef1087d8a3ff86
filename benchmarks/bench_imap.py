"""IMAP ingest on loopback, same mails, same run, one JSON object:

* ``bare``: an imapclient loop that logs in, searches and FETCHes ``BODY.PEEK[]`` and
  INTERNALDATE in batches (the baseline the issue names: what reading the mail costs);
* ``bare_imaplib``: a stronger baseline, the same FETCH commands through imaplib alone with its
  protocol trace off and the answer not parsed at all (the floor of reading the mail in Python);
* ``connector``: helpline's IMAP connector from a local Dovecot to raw.email on a real Apache
  Kafka broker, every record acknowledged (acks=all) and checkpointed, messages per second;
  target >= 70 % of ``bare``, its ratio to ``bare_imaplib`` reported beside it;
* ``bare`` / ``bare_imaplib`` / ``connector`` run ``--rounds`` times, alternating, each
  connector round from an empty checkpoint; figures are medians, ratios the median of the
  per-round ratios (a shared machine's noise hits both sides of one round alike);
* ``connector_to_kafka_4mib_producer_batches`` / ``connector_to_null_publisher``: the same
  connector with larger producer batches, and with a publisher that acknowledges at once,
  to show where the time goes; ``bare_aiokafka_produce_same_records``: the same records
  produced by one bare aiokafka producer (the Kafka side's own ceiling here). It runs first,
  so that no connector round meets a cold broker (JIT, new log segment);
* ``idle_latency``: with the connector IDLE, one new mail at a time is APPENDed; latency from
  the start of the APPEND to Kafka's acknowledgement of its raw record; target p99 < 1 s.

Mail: the shared email corpus (``../shared/corpus/email``, messages up to 512 KB) cycled to
``--messages``, else generated ~2 KB messages. Bounded by ``--messages``, ``--latency-samples``
and ``--timeout``.

Usage: python benchmarks/bench_imap.py [--messages N] [--rounds N] [--latency-samples N]
                                      [--timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
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


from ingest.imap.service import run_mailboxes  # noqa: E402
from ingest.imap.status import StatusBoard  # noqa: E402
from runtime.kafka import running_cluster  # noqa: E402
from runtime.kafka_io import (  # noqa: E402
    BatchSender,
    KafkaPublisher,
    create_topics,
    make_producer,
)
from runtime.settings import LocalKafkaSettings  # noqa: E402
from schemas.codec import encode  # noqa: E402
from schemas.raw import RawEmail  # noqa: E402
from schemas.stage import KafkaConnection  # noqa: E402
from schemas.topics import RAW_EMAIL, TopicSpec  # noqa: E402
from tests.support.dovecot import Dovecot, running_dovecot  # noqa: E402
from tests.support.imap_connector import email_settings, mailbox_for  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "email"
MAX_CORPUS_MESSAGE = 512 * 1024
BATCH = 200


def sample_mail(n: int) -> bytes:
    body = "".join(f"Line {i} of the customer's question about order {n}.\r\n" for i in range(40))
    return (f"From: Customer {n} <c{n}@customer.example>\r\nTo: support@help.example\r\n"
            f"Subject: Order {n}\r\nMessage-ID: <bench-{n}@customer.example>\r\n\r\n{body}"
            ).encode()


def mails(count: int) -> tuple[list[bytes], str]:
    files = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []
    corpus = [b for b in (f.read_bytes() for f in files) if len(b) <= MAX_CORPUS_MESSAGE]
    if corpus:
        return [corpus[i % len(corpus)] for i in range(count)], "shared corpus (cycled)"
    return [sample_mail(i) for i in range(count)], "generated ~2 KB"


def append_all(dovecot: Dovecot, user: str, messages: list[bytes]) -> int:
    appended = 0
    with dovecot.client(user) as imap:
        for raw in messages:
            try:
                imap.append("INBOX", raw)
                appended += 1
            except Exception:  # the server refused it (e.g. NUL bytes)
                continue
    return appended


def bare_fetch(dovecot: Dovecot, user: str) -> tuple[int, int, float]:
    t0 = time.perf_counter()
    count = size = 0
    with dovecot.client(user) as imap:
        imap.select_folder("INBOX", readonly=True)
        uids = sorted(imap.search(["UID", "1:*"]))
        for start in range(0, len(uids), BATCH):
            data = imap.fetch(uids[start:start + BATCH], ["BODY.PEEK[]", "INTERNALDATE"])
            for item in data.values():
                size += len(item[b"BODY[]"])
                count += 1
    return count, size, time.perf_counter() - t0


def bare_imaplib_fetch(dovecot: Dovecot, user: str) -> tuple[int, int, float]:
    """The same FETCHes through imaplib alone, trace off, answers not parsed: only literals
    counted (a message's answer is one ``(line, literal)`` pair)."""
    t0 = time.perf_counter()
    count = size = 0
    with dovecot.client(user) as client:
        client.select_folder("INBOX", readonly=True)
        imap = client._imap
        imap.debug = 0
        uids = sorted(client.search(["UID", "1:*"]))
        for start in range(0, len(uids), BATCH):
            chunk = uids[start:start + BATCH]
            _typ, data = imap.uid("FETCH", f"{chunk[0]}:{chunk[-1]}", "(BODY.PEEK[] INTERNALDATE)")
            for item in data:
                if isinstance(item, tuple):
                    size += len(item[1])
                    count += 1
    return count, size, time.perf_counter() - t0


class TimedPublisher:
    """Notes when Kafka acknowledged each record (by X-Bench-Id) for the latency figure; only
    once ``watching`` (the throughput rounds do not pay for looking into every record)."""

    def __init__(self, inner: KafkaPublisher) -> None:
        self.inner = inner
        self.acked_at: dict[bytes, float] = {}
        self.watching = False

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        await self.inner.publish(topic, key, value)
        if self.watching:
            self._note(value)

    async def publish_many(
        self, topic: TopicSpec, records: Sequence[tuple[bytes, Any]]
    ) -> list[BaseException | None]:
        results = await self.inner.publish_many(topic, records)
        if self.watching:
            for (_key, value), result in zip(records, results, strict=True):
                if result is None:
                    self._note(value)
        return results

    def _note(self, value: Any) -> None:
        head = value.raw[:400]
        start = head.find(b"X-Bench-Id: ")
        if start >= 0:
            self.acked_at[head[start + 12:head.index(b"\r\n", start)]] = time.perf_counter()


async def wait_until(predicate: Any, deadline: float) -> bool:
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


class NullPublisher:
    """Acknowledges at once: what the connector itself costs, without Kafka."""

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        return None

    async def publish_many(
        self, topic: TopicSpec, records: Sequence[tuple[bytes, Any]]
    ) -> list[BaseException | None]:
        return [None] * len(records)

    async def __aenter__(self) -> NullPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def kafka_publisher(conn: KafkaConnection, max_batch_bytes: int | None) -> KafkaPublisher:
    publisher = KafkaPublisher(conn)
    if max_batch_bytes:  # what-if figure for the lead: larger producer batches
        publisher._producer = make_producer(conn, linger_ms=0, max_batch_size=max_batch_bytes,
                                            request_timeout_ms=10_000)
        publisher._sender = BatchSender(publisher._producer, max_batch_bytes)
    return publisher


async def connector_run(
    conn: KafkaConnection, dovecot: Dovecot, user: str, expected: int, samples: int,
    deadline: float, cp_dir: Path, max_batch_bytes: int | None = None, null: bool = False,
) -> dict[str, Any]:
    settings = email_settings(cp_dir, mailbox_for(dovecot, user, fetch_batch_size=BATCH,
                                                  idle_check_interval_s=0.5))
    status = StatusBoard()
    stop = asyncio.Event()
    sink: Any = NullPublisher() if null else kafka_publisher(conn, max_batch_bytes)
    async with sink as kafka:
        publisher = TimedPublisher(kafka)
        t0 = time.perf_counter()
        task = asyncio.create_task(run_mailboxes(settings, publisher, stop, status))
        done = await wait_until(lambda: status.get(user, "INBOX").ingested >= expected, deadline)
        elapsed = time.perf_counter() - t0
        latencies: list[float] = []
        if done and await wait_until(lambda: status.get(user, "INBOX").state == "idle", deadline):
            publisher.watching = True
            with dovecot.client(user) as imap:
                for i in range(samples):
                    if time.monotonic() > deadline:
                        break
                    bench_id = f"lat-{i}".encode()
                    raw = b"X-Bench-Id: " + bench_id + b"\r\n" + sample_mail(10_000_000 + i)
                    sent = time.perf_counter()
                    await asyncio.to_thread(imap.append, "INBOX", raw)
                    if not await wait_until(lambda b=bench_id: b in publisher.acked_at, deadline):
                        break
                    latencies.append(publisher.acked_at[bench_id] - sent)
                    await wait_until(lambda: status.get(user, "INBOX").state == "idle", deadline)
        stop.set()
        await asyncio.wait_for(task, 30)
    return {"done": done, "elapsed_s": elapsed, "latencies": latencies,
            "ingested": status.get(user, "INBOX").ingested}


async def bare_produce(conn: KafkaConnection, dovecot: Dovecot, user: str) -> tuple[int, float]:
    """The Kafka side alone: the same mail as RawEmail records, produced by one aiokafka
    producer (acks=all, 1 MiB batches) with every ack awaited; read from IMAP beforehand."""
    with dovecot.client(user) as imap:
        imap.select_folder("INBOX", readonly=True)
        uids = sorted(imap.search("ALL"))
        raws = [v[b"BODY[]"] for v in imap.fetch(uids, ["BODY.PEEK[]"]).values()]
    now = datetime.now(UTC)
    producer = make_producer(conn, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        t0 = time.perf_counter()
        futures = [await producer.send(conn.topic(RAW_EMAIL), encode(RawEmail(
            source="imap", mailbox=user, raw=raw, received_at=now, folder="INBOX",
            uidvalidity=1, uid=i + 1)), key=user.encode()) for i, raw in enumerate(raws)]
        await asyncio.gather(*futures)
        return len(raws), time.perf_counter() - t0
    finally:
        await producer.stop()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


async def main(count: int, rounds: int, samples: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    messages, source = mails(count)
    with tempfile.TemporaryDirectory(prefix="bench-imap-") as tmp, \
            running_cluster(LocalKafkaSettings(), Path(tmp) / "kafka", root=ROOT) as cluster, \
            running_dovecot({"bench": "bench-pass"}) as dovecot:
        conn = KafkaConnection(bootstrap_servers=cluster.bootstrap,
                               topic_prefix=f"b{uuid.uuid4().hex[:6]}.")
        await create_topics(conn, partitions=2)
        appended = await asyncio.to_thread(append_all, dovecot, "bench", messages)
        produced, produce_s = await bare_produce(conn, dovecot, "bench")  # also warms Kafka
        bare: list[float] = []
        lean: list[float] = []
        runs: list[dict[str, Any]] = []
        size = 0
        for i in range(rounds):
            bare_n, size, bare_s = await asyncio.to_thread(bare_fetch, dovecot, "bench")
            lean_n, _, lean_s = await asyncio.to_thread(bare_imaplib_fetch, dovecot, "bench")
            bare.append(bare_n / bare_s)
            lean.append(lean_n / lean_s)
            last = i == rounds - 1  # the latency samples come after its ingest is timed
            runs.append(await connector_run(conn, dovecot, "bench", appended,
                                            samples if last else 0, deadline,
                                            Path(tmp) / f"cp{i}"))
        total = appended + len(runs[-1]["latencies"])
        tuned = await connector_run(conn, dovecot, "bench", total, 0, deadline,
                                    Path(tmp) / "cp-tuned", max_batch_bytes=4 << 20)
        alone = await connector_run(conn, dovecot, "bench", total, 0, deadline,
                                    Path(tmp) / "cp-null", null=True)
    bare_rate, lean_rate = median(bare), median(lean)
    lat = runs[-1]["latencies"]

    def per_s(r: dict[str, Any], n: int) -> float:
        return n / r["elapsed_s"] if r["done"] and r["elapsed_s"] else 0.0

    def rate(r: dict[str, Any], n: int) -> dict[str, Any]:
        return {"messages_per_s": round(per_s(r, n), 1), "seconds": round(r["elapsed_s"], 3),
                "complete": r["done"], "ratio_vs_bare": round(per_s(r, n) / bare_rate, 3),
                "ratio_vs_bare_imaplib": round(per_s(r, n) / lean_rate, 3)}

    vs_bare = [per_s(r, appended) / b for r, b in zip(runs, bare, strict=True)]
    vs_lean = [per_s(r, appended) / b for r, b in zip(runs, lean, strict=True)]
    return {
        "benchmark": "imap",
        "mail": {"source": source, "messages": appended, "bytes": size},
        "rounds": rounds,
        "bare_imapclient_fetch": {"messages_per_s": round(bare_rate, 1),
                                  "per_round": [round(r, 1) for r in bare]},
        "bare_imaplib_fetch": {"messages_per_s": round(lean_rate, 1),
                               "per_round": [round(r, 1) for r in lean]},
        "connector_to_kafka": {
            "messages_per_s": round(median([per_s(r, appended) for r in runs]), 1),
            "complete": all(r["done"] for r in runs),
            "ratio_vs_bare": round(median(vs_bare), 3),
            "ratio_vs_bare_per_round": [round(r, 3) for r in vs_bare],
            "ratio_vs_bare_imaplib": round(median(vs_lean), 3),
            "ratio_vs_bare_imaplib_per_round": [round(r, 3) for r in vs_lean],
        },
        "connector_to_kafka_4mib_producer_batches": rate(tuned, total),
        "connector_to_null_publisher": rate(alone, total),
        "bare_aiokafka_produce_same_records": {
            "messages_per_s": round(produced / produce_s, 1), "seconds": round(produce_s, 3)},
        "target_ratio": 0.7,
        "idle_latency_ms": {
            "samples": len(lat),
            "p50": round(1000 * (pct(lat, 0.5) or 0), 1) if lat else None,
            "p99": round(1000 * (pct(lat, 0.99) or 0), 1) if lat else None,
            "max": round(1000 * max(lat), 1) if lat else None,
            "mean": round(1000 * statistics.fmean(lat), 1) if lat else None,
        },
        "target_p99_ms": 1000,
        "note": "Dovecot delays IDLE notifications by ~0.5 s (its own batching); "
                "latency = APPEND start to Kafka ack of the raw record",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.messages, max(1, args.rounds), args.latency_samples,
                                     args.timeout))))
