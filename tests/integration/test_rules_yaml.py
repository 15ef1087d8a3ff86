"""A YAML rules file on a real Apache Kafka broker: ``helpline rules push rules.yaml`` refuses a
bad file with its line and column, publishes a good one as ``format = "yaml"``, the running
classify stage compiles it and classifies with it, reloads a newer YAML version, and keeps that
version when a broken YAML ruleset reaches the topic anyway."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.directory import RulesetRecord
from schemas.stage import KafkaConnection
from schemas.topics import RULES
from tests.support.classify_events import (
    classify_first_ticket,
    classify_running,
    classify_second_ticket,
    until,
)
from tests.support.kafka import produce, read_topic
from tests.support.processes import run_cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_YAML = REPO / "classify" / "examples" / "rules.yaml"


def test_a_yaml_ruleset_pushed_with_the_cli_classifies_tickets_on_the_broker(
    kafka_conn: KafkaConnection, tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rule:\n  - id: x\n    when: {field: subjet, equals: a}\n"
                   "    then: {tags: [x]}\n")
    refused = run_cli(kafka_conn, "rules", "push", str(bad))
    assert refused.returncode == 1
    assert f"{bad}:3:19: rule[0] (x).when.field: unknown field 'subjet'" in refused.stderr
    pushed = run_cli(kafka_conn, "rules", "push", str(EXAMPLE_YAML))
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed ruleset 'default'" in pushed.stdout and "yaml" in pushed.stdout
    (record,) = asyncio.run(read_topic(kafka_conn, RULES, expect=1))  # the bad one never got there
    assert isinstance(record.value, RulesetRecord)
    assert record.value.format == "yaml" and record.value.source == EXAMPLE_YAML.read_text()

    async def go() -> None:
        async with classify_running(kafka_conn) as (stage, runner, task):
            c = await classify_first_ticket(kafka_conn, runner, task)
            assert c.ruleset_version == record.value.version

            # hot reload from YAML; then a broken YAML ruleset on the topic is refused by the
            # stage, which keeps the version it runs
            new = RulesetRecord(name="default", version="v2", pushed_at=datetime.now(UTC),
                                format="yaml",
                                source="rule:\n  - id: all\n    then: {team: Everyone}\n")
            await produce(kafka_conn, RULES, [(b"default", new)])
            await until(lambda: stage.ruleset.version != c.ruleset_version, task, 30)
            assert [r.rule_id for r in stage.ruleset.rules] == ["all"]
            broken = RulesetRecord(name="default", version="v3", pushed_at=datetime.now(UTC),
                                   format="yaml", source="rule:\n  - id: a\n    then: {stop: no}\n")
            await produce(kafka_conn, RULES, [(b"default", broken)])
            await until(lambda: bool(stage.rules_errors), task, 30)
            assert (stage.rules_errors[0].line, stage.rules_errors[0].column) == (3, 18)
            t2 = await classify_second_ticket(kafka_conn, runner, task)
            assert t2.team == "Everyone" and [m.rule_id for m in t2.matched_rules] == ["all"]

    asyncio.run(go())


def test_rules_check_reads_yaml_by_name_or_format(kafka_conn: KafkaConnection,
                                                  tmp_path: Path) -> None:
    ok = run_cli(kafka_conn, "rules", "check", str(EXAMPLE_YAML))
    assert ok.returncode == 0 and "ok, 9 rules" in ok.stdout
    named = tmp_path / "rules.txt"
    named.write_text(EXAMPLE_YAML.read_text())
    as_yaml = run_cli(kafka_conn, "rules", "check", "--format", "yaml", str(named))
    assert as_yaml.returncode == 0, as_yaml.stderr
    dup = tmp_path / "dup.yml"
    dup.write_text("ruleset: {mode: all}\nruleset: {mode: first}\n")
    refused = run_cli(kafka_conn, "rules", "check", str(dup))
    assert refused.returncode == 1 and f"{dup}:2:1: ruleset: duplicate key" in refused.stderr
