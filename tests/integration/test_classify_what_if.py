"""`helpline rules check FILE --against 30d` and `helpline model compare DIR` on a real broker:
the ticket history is read back from ticket.events and classified twice by the stage's code,
as the pipeline runs now (rules on the rules topic) and with the candidate."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classify.evaluation import read_labelled_csv
from classify.model import TrainingOptions, save_model, train_model
from classify.publish import publish_ruleset
from runtime.topic_io import KafkaTopicIO
from schemas.directory import RulesetRecord
from schemas.stage import KafkaConnection
from schemas.topics import TICKET_EVENTS
from tests.support.classify_events import opened
from tests.support.kafka import produce
from tests.support.processes import run_cli

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"
NOW = '[[rule]]\nid = "inv"\nwhen = { field = "body", contains = "invoice" }\n' \
      'then = { team = "billing" }\n'


def test_rules_and_a_model_tried_on_the_ticket_history(kafka_conn: KafkaConnection,
                                                       tmp_path: Path) -> None:
    async def setup() -> None:
        await publish_ruleset(KafkaTopicIO(kafka_conn), RulesetRecord(
            name="default", version="v1", source=NOW, pushed_at=datetime.now(UTC)))
        events = [*opened("t1", "Invoice", "where is my invoice"),
                  *opened("t2", "Parcel", "my parcel is late"),
                  *opened("t3", "Invoice", "a second invoice question")]
        await produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in events])

    asyncio.run(setup())
    candidate = tmp_path / "rules.toml"
    candidate.write_text(NOW.replace('"billing"', '"finance"'))
    result = run_cli(kafka_conn, "rules", "check", str(candidate), "--against", "30d")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.split("\n", 1)[1])
    assert report["classifications"] == 3 and report["would_change"] == 2
    assert report["by_field"]["team"] == 2
    assert {x["ticket"] for x in report["examples"]} == {"HL-t1", "HL-t3"}

    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    save_model(train_model(texts, labels, TrainingOptions(seed=13)), tmp_path / "m")
    result = run_cli(kafka_conn, "model", "compare", str(tmp_path / "m"), "--against", "1d")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["classifications"] == 3 and report["by_field"]["category"] >= 1
