"""The classify stage on a real Apache Kafka broker: rules pushed with the CLI reach the
running stage through the compacted rules topic, ticket events come in, ``classified`` events
with their reasons go out on the same topic, and a bad rules file never replaces a good one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classify.publish import publish_ruleset
from runtime.topic_io import KafkaTopicIO
from schemas.directory import RulesetRecord
from schemas.stage import KafkaConnection
from schemas.topics import RULES
from tests.support.classify_events import (
    classify_first_ticket,
    classify_running,
    classify_second_ticket,
    until,
)
from tests.support.processes import run_cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "classify" / "examples" / "rules.toml"


def test_rules_pushed_with_the_cli_classify_tickets_on_the_broker(
    kafka_conn: KafkaConnection, tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "x"\nwhen = { field = "subjet", equals = "a" }\n'
                   'then = { tags = ["x"] }\n')
    refused = run_cli(kafka_conn, "rules", "push", str(bad))
    assert refused.returncode == 1
    assert "3:" in refused.stderr and "unknown field 'subjet'" in refused.stderr
    pushed = run_cli(kafka_conn, "rules", "push", str(EXAMPLE))
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed ruleset 'default'" in pushed.stdout

    async def go() -> None:
        async with classify_running(kafka_conn) as (stage, runner, task):
            c = await classify_first_ticket(kafka_conn, runner, task)
            assert c.language == "fr" and c.model_status == "absent"

            # hot reload: a new version replaces it, a broken one is refused by the stage too
            new = RulesetRecord(name="default", version="v2", pushed_at=datetime.now(UTC),
                                source='[[rule]]\nid = "all"\nthen = { team = "Everyone" }\n')
            await publish_ruleset(KafkaTopicIO(kafka_conn), new)
            await until(lambda: stage.ruleset.version != c.ruleset_version, task, 30)
            await publish_ruleset(KafkaTopicIO(kafka_conn), RulesetRecord(
                name="default", version="v3", pushed_at=datetime.now(UTC), source=bad.read_text()))
            await until(lambda: bool(stage.rules_errors), task, 30)
            t2 = await classify_second_ticket(kafka_conn, runner, task)
            assert t2.team == "Everyone" and [m.rule_id for m in t2.matched_rules] == ["all"]

    asyncio.run(go())


def test_rules_check_reports_positions_and_exit_codes(kafka_conn: KafkaConnection,
                                                      tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "a"\nwhen = { field = "subject" contains = "x" }\n')
    result = run_cli(kafka_conn, "rules", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3:28:" in result.stderr
    ok = run_cli(kafka_conn, "rules", "check", str(EXAMPLE))
    assert ok.returncode == 0 and "ok, 9 rules" in ok.stdout
    assert RULES.cleanup == "compact"
