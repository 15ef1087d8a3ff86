"""Models through the broker, as rules are: ``helpline model push`` publishes a trained model in
signed chunks to the compacted models topic, a running classify stage picks it up and
classifies with it, and a model signed with another key is refused while the stage keeps the
one it had."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.evaluation import read_labelled_csv
from classify.model import METADATA, WEIGHTS, TrainingOptions, save_model, train_model
from classify.model_push import push_model
from classify.model_topic import signing_key
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage, model_signing_key
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings, Settings
from runtime.topic_io import KafkaTopicIO
from schemas.stage import KafkaConnection
from schemas.topics import TICKET_EVENTS
from tests.support.classify_events import classified, opened, until
from tests.support.kafka import produce, read_topic
from tests.support.processes import run_cli

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"


def test_a_pushed_model_is_verified_hot_loaded_and_used_a_bad_signature_refused(
        kafka_conn: KafkaConnection, tmp_path: Path) -> None:
    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    card = save_model(train_model(texts, labels, TrainingOptions(seed=13)), tmp_path / "m")
    pushed = run_cli(kafka_conn, "model", "push", str(tmp_path / "m"))
    assert pushed.returncode == 0, pushed.stderr
    assert f"pushed model 'category' version {card.version}" in pushed.stdout

    key = model_signing_key(ClassifySettings(), Settings().signing_key)
    stage = ClassifyStage(Classifier(None), ClassifySettings(), key)
    runner = StageRunner(stage, kafka_conn, RunnerSettings(batch_timeout_ms=20))

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await until(lambda: bool(stage.report()["models"]), task, 60)
            assert stage.report()["models"][0]["version"] == card.version
            events = opened("t1", "Invoice", "I was charged twice on my invoice, refund please")
            await produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in events])
            c = classified(await read_topic(kafka_conn, TICKET_EVENTS, expect=3))["t1"]
            assert c.model_version == card.version and c.model_status == "applied"
            assert c.predictions[0].best_guess == "billing"

            # another key (an attacker's, or a misconfigured pusher's): refused, model kept
            await push_model(KafkaTopicIO(kafka_conn), "category",
                             (tmp_path / "m" / METADATA).read_text(),
                             (tmp_path / "m" / WEIGHTS).read_bytes(),
                             signing_key("not the deployment's key", b""), "active",
                             datetime.now(UTC), 64 * 1024, 60)
            await until(lambda: "category" in stage.report()["model_errors"], task, 60)
            assert "bad signature" in stage.report()["model_errors"]["category"]
            assert stage.classifier.models[0].card.version == card.version

            # a shadow model: loaded beside, counted, not acting; then promoted
            flipped = ["delivery" if y == "billing" else y for y in labels]
            shadow_card = save_model(train_model(texts, flipped, TrainingOptions(seed=13)),
                                     tmp_path / "s")
            pushed = await asyncio.to_thread(run_cli, kafka_conn, "model", "push",
                                             str(tmp_path / "s"), "--shadow")
            assert pushed.returncode == 0, pushed.stderr
            await until(lambda: "category" in stage.report()["shadow"], task, 60)
            more = opened("t2", "Invoice", "charged twice on this invoice")
            await produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in more])
            await until(lambda: stage.report()["shadow"]["category"]["tickets"] == 1, task, 60)
            assert stage.report()["shadow"]["category"]["changed"]["category"] == 1
            assert stage.classifier.models[0].card.version == card.version  # still acting
            promoted = await asyncio.to_thread(run_cli, kafka_conn, "model", "promote",
                                               "category")
            assert promoted.returncode == 0, promoted.stderr
            await until(lambda: stage.classifier.models[0].card.version
                        == shadow_card.version, task, 60)
            await until(lambda: stage.report()["shadow"] == {}, task, 60)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(go())


def test_a_classify_worker_reports_its_model_version_in_health_and_metrics(
        kafka_conn: KafkaConnection, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from runtime.kafka import free_port

    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    card = save_model(train_model(texts, labels, TrainingOptions(seed=13)), tmp_path / "m")
    assert run_cli(kafka_conn, "model", "push", str(tmp_path / "m")).returncode == 0
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": kafka_conn.bootstrap_servers,
           "HELPLINE_KAFKA__TOPIC_PREFIX": kafka_conn.topic_prefix,
           "HELPLINE_OBSERVABILITY__HTTP_PORT": str(port),
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    worker = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "worker", "classify", "--instance-id", "m1"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
            except httpx.TransportError:
                health = {}
            if health.get("models"):
                break
            time.sleep(0.3)
        assert health.get("models") == [{"name": "category", "mode": "active",
                                         "target": "category", "version": card.version,
                                         "trained_rows": card.trained_rows}], health
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert f'version="{card.version}"' in metrics
        assert "helpline_classify_models_refused 0.0" in metrics
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out.decode(errors="replace")[-2000:]
