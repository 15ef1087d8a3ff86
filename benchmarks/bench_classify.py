"""Classification throughput, same run, one JSON object:

* ``pure``: the classifier alone on one core (no broker): rules only, language + sentiment,
  the models' batch prediction (each model on its own, and sharing one feature matrix as the
  classifier does), and the whole :class:`classify.classifier.Classifier` in batches, on
  realistic email tickets (the multilingual ticket corpus when ``../shared`` is present: each
  ticket is a row's subject + body, the 1,167 rows repeated in order up to ``--tickets``; else
  built-in samples), with a department and a priority model trained at start.
  Baseline: decoding + encoding the same ticket events (what any stage pays per record).
* ``stage`` (unless ``--no-broker``): the classify stage under helpline's StageRunner on a real
  Apache Kafka broker vs a bare aiokafka relay of the same records (getmany → orjson → send →
  commit), input records per second.

Usage: python benchmarks/bench_classify.py [--tickets N] [--batch N] [--no-broker]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# one core: the figure is per core
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from classify.classifier import Classifier  # noqa: E402
from classify.evaluation import read_labelled_csv  # noqa: E402
from classify.facts import CustomerFacts, TicketFacts  # noqa: E402
from classify.language import LanguageDetection  # noqa: E402
from classify.model import (  # noqa: E402
    Prediction,
    TicketClassifier,
    TrainingOptions,
    nearest_centroids,
    stack_centroids,
    train_model,
)
from classify.rules_loader import load_rules  # noqa: E402
from classify.settings import ClassifySettings  # noqa: E402
from classify.stage import ClassifyStage  # noqa: E402
from classify.text import fold  # noqa: E402
from schemas.codec import decoder, encode  # noqa: E402
from schemas.directory import RulesetRecord  # noqa: E402
from schemas.events import TicketEvent  # noqa: E402
from tests.support.classify_events import T0, opened  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "tickets"
MULTILANG = CORPUS / "multilang-tickets-v3" / "dataset-tickets-multi-lang3-4k.first1167.csv"
GOLDEN = ROOT / "tests" / "golden" / "classify" / "tickets.csv"
RULES = (ROOT / "classify" / "examples" / "rules.toml").read_text()
PARTITIONS = 4


BANKING = CORPUS / "banking77"


def _tickets(n: int, workload: str = "email") -> tuple[list[tuple[str, str]], str]:
    if workload == "email" and MULTILANG.is_file():
        with MULTILANG.open(newline="", encoding="utf-8") as handle:
            rows = [(r["subject"], r["body"]) for r in csv.DictReader(handle)]
        source = "multilang-tickets-v3 (subject + body)"
    elif workload == "chat" and BANKING.is_dir():
        texts, _ = read_labelled_csv(BANKING / "test.csv", ["text"], "category")
        rows = [("", t) for t in texts]
        source = "banking77 test.csv (chat-length queries)"
    else:
        texts, _ = read_labelled_csv(GOLDEN, ["text"], "category")
        rows = [(t[:40], t) for t in texts]
        source = "tests/golden/classify/tickets.csv"
    return [rows[i % len(rows)] for i in range(n)], source


def _models(workload: str = "email") -> list[TicketClassifier]:
    if workload == "email" and MULTILANG.is_file():
        texts, queues = read_labelled_csv(MULTILANG, ["subject", "body"], "queue")
        _, priorities = read_labelled_csv(MULTILANG, ["subject", "body"], "priority")
        return [train_model(texts, queues, TrainingOptions(target="department")),
                train_model(texts, priorities, TrainingOptions(target="priority"))]
    if workload == "chat" and BANKING.is_dir():
        texts, labels = read_labelled_csv(BANKING / "train.csv", ["text"], "category")
        return [train_model(texts, labels)]
    texts, labels = read_labelled_csv(GOLDEN, ["text"], "category")
    return [train_model(texts, labels)]


def _shared(models: list[TicketClassifier], matrix: Any) -> list[list[Prediction]]:
    assert len({m.card.features_id for m in models}) == 1, "trained on the same tickets"
    scopes = nearest_centroids(matrix, stack_centroids(models),
                               [m.centroids.shape[0] for m in models])
    return [m.predict_features(matrix, scope) for m, scope in zip(models, scopes, strict=True)]


def _rate(n: int, fn: Callable[[], Any], repeat: int = 3) -> float:
    """Items per second of CPU time of this process (one thread): per core, whatever else
    the machine is running."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return n / best


def pure(n: int, batch: int, workload: str) -> dict[str, Any]:
    pairs, source = _tickets(n, workload)
    facts = [TicketFacts(subject=s, body=b, channel="email", sender="a@client.fr",
                         customer=CustomerFacts(tier="Gold")) for s, b in pairs]
    times = [T0] * n
    checked = load_rules(RULES)
    assert checked.ruleset is not None
    ruleset = checked.ruleset
    language = LanguageDetection()
    started = time.perf_counter()
    models = _models(workload)
    trained_s = time.perf_counter() - started
    classifier = Classifier(language, models)
    rules_only = Classifier(None, ())
    events = [e for s, b in pairs[: min(n, 2000)] for e in opened("t", s, b)]
    raw = [encode(e) for e in events]
    decode = decoder(TicketEvent)

    def run(c: Classifier) -> Callable[[], None]:
        def go() -> None:
            for i in range(0, n, batch):
                c.classify(facts[i:i + batch], times[i:i + batch], ruleset)
        return go

    texts = [f"{s}\n{b}" for s, b in pairs]
    prepared = [fold(t[:2000]) for t in texts]
    return {
        "tickets": n, "ticket_source": source, "batch": batch,
        "median_ticket_chars": sorted(len(t) for t in texts)[n // 2],
        "rules": len(ruleset.rules), "models": [m.card.target for m in models],
        "model_training_s": round(trained_s, 1),
        "rules_and_sentiment_per_s": round(_rate(n, run(rules_only))),
        "language_per_s": round(_rate(n, lambda: [language.detect(t) for t in texts])),
        # tickets the function-word first pass leaves to lingua
        "language_lingua_share": round(sum(
            language.by_function_words(t[: language.sample_chars]) is None
            for t in texts) / n, 4),
        "models_batch_predict_per_s": round(_rate(n, lambda: [
            m.predict_prepared(prepared[i:i + batch]) for m in models
            for i in range(0, n, batch)])),
        # what the classifier does: one feature matrix per batch, shared by every model, and
        # one product with all the models' centroids
        "models_shared_features_per_s": round(_rate(n, lambda: [
            _shared(models, matrix) for matrix in [models[0].features.transform(
                prepared[i:i + batch]) for i in range(0, n, batch)]])),
        "classifier_per_s": round(_rate(n, run(classifier))),
        "baseline_decode_encode_event_per_s": round(_rate(len(raw), lambda: [
            encode(decode(r)) for r in raw])),
    }


async def stage_vs_bare(n: int) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    from benchmarks.relay import bare_relay
    from runtime.kafka import running_cluster
    from runtime.kafka_io import create_topics, make_producer
    from runtime.runner import StageRunner
    from runtime.settings import LocalKafkaSettings, RunnerSettings
    from schemas.stage import KafkaConnection
    from schemas.topics import RULES as RULES_TOPIC
    from schemas.topics import TICKET_EVENTS

    pairs, _ = _tickets(n, "email")
    records = [e for i, (s, b) in enumerate(pairs) for e in opened(f"t{i}", s, b)]
    out: dict[str, Any] = {"tickets": n, "input_records": len(records),
                           "partitions": PARTITIONS,
                           "broker": f"Apache Kafka {LocalKafkaSettings().version} (local)"}
    with tempfile.TemporaryDirectory() as tmp, \
            running_cluster(LocalKafkaSettings(heap="1g"), Path(tmp), root=ROOT) as cluster:
        conn = KafkaConnection(bootstrap_servers=cluster.bootstrap, topic_prefix="b.")
        await create_topics(conn, partitions=PARTITIONS)
        src = conn.topic(TICKET_EVENTS)
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("bare.out", PARTITIONS, 1)])
        await admin.close()
        producer = make_producer(conn, linger_ms=5)
        await producer.start()
        try:
            await producer.send_and_wait(conn.topic(RULES_TOPIC), encode(RulesetRecord(
                name="default", version="bench", source=RULES, pushed_at=T0)), key=b"default")
            futs = [await producer.send(src, encode(e), key=e.ticket_id.encode())
                    for e in records]
            await asyncio.gather(*futs)
        finally:
            await producer.stop()
        await bare_relay(conn, src, "bare.out", min(len(records), 2000))  # warm-up
        # from the start, group join included: the same clock as the stage's figure below
        relayed = await bare_relay(conn, src, "bare.out", len(records))
        out["bare_relay_per_s"] = round(relayed.from_start_per_s)

        stage = ClassifyStage(Classifier(LanguageDetection(), _models("email")),
                              ClassifySettings())
        stop = asyncio.Event()
        runner = StageRunner(stage, conn, RunnerSettings(batch_max_records=2000,
                                                         batch_timeout_ms=20))
        started = time.monotonic()
        task = asyncio.create_task(runner.run(stop))
        consumer = AIOKafkaConsumer(src, **conn.options(), group_id=f"c-{uuid.uuid4().hex}",
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        seen, want = 0, len(records) + n
        deadline = time.monotonic() + 600
        try:
            while seen < want and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200, max_records=10000)
                seen += sum(len(v) for v in batch.values())
        finally:
            await consumer.stop()
        elapsed = time.monotonic() - started
        stop.set()
        await task
        out["stage_per_s"] = round(len(records) / elapsed) if seen >= want else None
        out["stage_tickets_per_s"] = round(n / elapsed) if seen >= want else None
        out["stage_vs_bare"] = (round(out["stage_per_s"] / out["bare_relay_per_s"], 3)
                                if out["stage_per_s"] else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--no-broker", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "benchmark": "classify",
        "note": "pure_* rates are per second of CPU time of one single-threaded process "
                "(per core); stage rates are wall-clock on a shared machine",
        "pure_email": pure(args.tickets, args.batch, "email"),
        "pure_chat": pure(args.tickets, args.batch, "chat"),
    }
    if not args.no_broker:
        result["stage"] = asyncio.run(stage_vs_bare(args.tickets))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
