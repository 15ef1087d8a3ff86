"""The classify stage on a real Apache Kafka broker: rules pushed with the CLI reach the
running stage through the compacted rules topic, ticket events come in, ``classified`` events
with their reasons go out on the same topic, and a bad rules file never replaces a good one."""

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
from classify.publish import publish_ruleset
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from runtime.topic_io import KafkaTopicIO
from schemas.classify_events import Classified
from schemas.directory import CustomerRecord, RulesetRecord
from schemas.stage import KafkaConnection
from schemas.topics import CUSTOMERS, RULES, TICKET_EVENTS
from tests.support.classify_events import opened
from tests.support.kafka import Consumed, produce, read_topic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "classify" / "examples" / "rules.toml"


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


def test_rules_pushed_with_the_cli_classify_tickets_on_the_broker(
    kafka_conn: KafkaConnection, tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "x"\nwhen = { field = "subjet", equals = "a" }\n'
                   'then = { tags = ["x"] }\n')
    refused = _cli(kafka_conn, "rules", "push", str(bad))
    assert refused.returncode == 1
    assert "3:" in refused.stderr and "unknown field 'subjet'" in refused.stderr
    pushed = _cli(kafka_conn, "rules", "push", str(EXAMPLE))
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed ruleset 'default'" in pushed.stdout

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
            assert c.language == "fr" and c.model_status == "absent"

            # hot reload: a new version replaces it, a broken one is refused by the stage too
            new = RulesetRecord(name="default", version="v2", pushed_at=datetime.now(UTC),
                                source='[[rule]]\nid = "all"\nthen = { team = "Everyone" }\n')
            await publish_ruleset(KafkaTopicIO(kafka_conn), new)
            await _until(lambda: stage.ruleset.version != c.ruleset_version, task, 30)
            await publish_ruleset(KafkaTopicIO(kafka_conn), RulesetRecord(
                name="default", version="v3", pushed_at=datetime.now(UTC), source=bad.read_text()))
            await _until(lambda: bool(stage.rules_errors), task, 30)
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


def test_rules_check_reports_positions_and_exit_codes(kafka_conn: KafkaConnection,
                                                      tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "a"\nwhen = { field = "subject" contains = "x" }\n')
    result = _cli(kafka_conn, "rules", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3:28:" in result.stderr
    ok = _cli(kafka_conn, "rules", "check", str(EXAMPLE))
    assert ok.returncode == 0 and "ok, 9 rules" in ok.stdout
    assert RULES.cleanup == "compact"
