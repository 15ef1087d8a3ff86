"""A YAML rules file on a real Apache Kafka broker: ``helpline rules push rules.yaml`` refuses a
bad file with its line and column, publishes a good one as ``format = "yaml"``, the running
classify stage compiles it and classifies with it, reloads a newer YAML version, and keeps that
version when a broken YAML ruleset reaches the topic anyway."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.language import LanguageDetection
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.classify_events import Classified
from schemas.directory import CustomerRecord, RulesetRecord
from schemas.stage import KafkaConnection
from schemas.topics import CUSTOMERS, RULES, TICKET_EVENTS
from tests.support.classify_events import opened
from tests.support.kafka import Consumed, produce, read_topic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_YAML = REPO / "classify" / "examples" / "rules.yaml"


def _cli(conn: KafkaConnection, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": conn.bootstrap_servers,
           "HELPLINE_KAFKA__TOPIC_PREFIX": conn.topic_prefix}
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _classified(records: list[Consumed]) -> dict[str, Classified]:
    return {r.value.ticket_id: r.value.payload for r in records
            if isinstance(r.value.payload, Classified)}


async def _until(done: Callable[[], bool], task: asyncio.Task[None], limit_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not done() and asyncio.get_running_loop().time() < deadline:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)


def test_a_yaml_ruleset_pushed_with_the_cli_classifies_tickets_on_the_broker(
    kafka_conn: KafkaConnection, tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rule:\n  - id: x\n    when: {field: subjet, equals: a}\n"
                   "    then: {tags: [x]}\n")
    refused = _cli(kafka_conn, "rules", "push", str(bad))
    assert refused.returncode == 1
    assert f"{bad}:3:19: rule[0] (x).when.field: unknown field 'subjet'" in refused.stderr
    pushed = _cli(kafka_conn, "rules", "push", str(EXAMPLE_YAML))
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed ruleset 'default'" in pushed.stdout and "yaml" in pushed.stdout
    (record,) = asyncio.run(read_topic(kafka_conn, RULES, expect=1))  # the bad one never got there
    assert isinstance(record.value, RulesetRecord)
    assert record.value.format == "yaml" and record.value.source == EXAMPLE_YAML.read_text()

    async def go() -> None:
        await produce(kafka_conn, CUSTOMERS, [(b"c1", CustomerRecord(customer_id="c1",
                                                                     title="CEO"))])
        first = opened("t1", "Le téléphone chauffe", "Bonjour, LE TELEPHONE CHAUFFE encore.")
        await produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in first])
        stage = ClassifyStage(Classifier(LanguageDetection()), ClassifySettings())
        runner = StageRunner(stage, kafka_conn, RunnerSettings(batch_timeout_ms=20))
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await _until(lambda: runner.status.records_in >= 2, task, 60)
            out = _classified(await read_topic(kafka_conn, TICKET_EVENTS, expect=3))
            c = out["t1"]
            assert (c.team, c.priority, c.category) == ("Senior management", "high", "hardware")
            assert [m.rule_id for m in c.matched_rules] == ["phone-overheating", "ceo"]
            assert c.ruleset_version == record.value.version

            # hot reload from YAML; then a broken YAML ruleset on the topic is refused by the
            # stage, which keeps the version it runs
            new = RulesetRecord(name="default", version="v2", pushed_at=datetime.now(UTC),
                                format="yaml",
                                source="rule:\n  - id: all\n    then: {team: Everyone}\n")
            await produce(kafka_conn, RULES, [(b"default", new)])
            await _until(lambda: stage.ruleset.version != c.ruleset_version, task, 30)
            assert [r.rule_id for r in stage.ruleset.rules] == ["all"]
            broken = RulesetRecord(name="default", version="v3", pushed_at=datetime.now(UTC),
                                   format="yaml", source="rule:\n  - id: a\n    then: {stop: no}\n")
            await produce(kafka_conn, RULES, [(b"default", broken)])
            await _until(lambda: bool(stage.rules_errors), task, 30)
            assert (stage.rules_errors[0].line, stage.rules_errors[0].column) == (3, 18)
            second = opened("t2", "Question", "Where is my invoice?")
            await produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in second])
            await _until(lambda: runner.status.records_in >= 5, task, 60)
            out = _classified(await read_topic(kafka_conn, TICKET_EVENTS, expect=6))
            assert out["t2"].team == "Everyone"
            assert [m.rule_id for m in out["t2"].matched_rules] == ["all"]
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(go())


def test_rules_check_reads_yaml_by_name_or_format(kafka_conn: KafkaConnection,
                                                  tmp_path: Path) -> None:
    ok = _cli(kafka_conn, "rules", "check", str(EXAMPLE_YAML))
    assert ok.returncode == 0 and "ok, 9 rules" in ok.stdout
    named = tmp_path / "rules.txt"
    named.write_text(EXAMPLE_YAML.read_text())
    as_yaml = _cli(kafka_conn, "rules", "check", "--format", "yaml", str(named))
    assert as_yaml.returncode == 0, as_yaml.stderr
    dup = tmp_path / "dup.yml"
    dup.write_text("ruleset: {mode: all}\nruleset: {mode: first}\n")
    refused = _cli(kafka_conn, "rules", "check", str(dup))
    assert refused.returncode == 1 and f"{dup}:2:1: ruleset: duplicate key" in refused.stderr
