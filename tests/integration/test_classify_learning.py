"""Learning from agents on a real broker: the running classify stage turns an agent's merge of
a ticket into one of another category into a labelled ticket on model.examples, and
`helpline model train --from-topic` trains on it (plus a cold-start CSV) and reports drift."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.publish import publish_ruleset
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from runtime.topic_io import KafkaTopicIO
from schemas.directory import RulesetRecord
from schemas.events import Actor, TicketEvent
from schemas.stage import KafkaConnection
from schemas.ticket_events import Merged
from schemas.topics import MODEL_EXAMPLES, TICKET_EVENTS
from tests.support.classify_events import T0, opened, until
from tests.support.kafka import produce, read_topic
from tests.support.processes import run_cli

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"
RULES = ('[[rule]]\nid = "inv"\nwhen = { field = "body", contains = "invoice" }\n'
         'then = { category = "billing" }\n'
         '[[rule]]\nid = "parcel"\nwhen = { field = "body", contains = "parcel" }\n'
         'then = { category = "delivery" }\n')


def test_an_agents_merge_becomes_a_training_example(kafka_conn: KafkaConnection,
                                                    tmp_path: Path) -> None:
    async def go() -> None:
        await publish_ruleset(KafkaTopicIO(kafka_conn), RulesetRecord(
            name="default", version="v1", source=RULES, pushed_at=datetime.now(UTC)))
        stage = ClassifyStage(Classifier(None), ClassifySettings())
        runner = StageRunner(stage, kafka_conn, RunnerSettings(batch_timeout_ms=20))
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await until(lambda: stage.ruleset.version != "", task, 60)
            events = [*opened("t1", "Question", "about my invoice, the amount is wrong"),
                      *opened("t2", "Parcel", "my parcel never came")]
            await produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in events])
            await until(lambda: runner.status.records_in >= 4, task, 60)
            merge = TicketEvent(event_id="e-merge", ticket_id="t1", ticket_number="HL-t1",
                                at=T0 + timedelta(hours=1), actor=Actor(kind="agent", id="ann"),
                                payload=Merged(into_ticket_id="t2", into_number="HL-t2"))
            await produce(kafka_conn, TICKET_EVENTS, [(b"t1", merge)])
            examples = await read_topic(kafka_conn, MODEL_EXAMPLES, expect=1, timeout_s=60)
            assert examples[0].key == b"t1/category"
            assert (examples[0].value.label, examples[0].value.previous) == ("delivery",
                                                                            "billing")
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(go())
    result = run_cli(kafka_conn, "model", "train", "--from-topic", "--data",
                     str(GOLDEN / "tickets.csv"), "--text-col", "text", "--label-col",
                     "category", "--out", str(tmp_path / "m"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["drift"]["desk_examples"] == 1
    assert report["drift"]["by_source"] == {"merged": 1}
    assert report["drift"]["per_class"]["billing"]["corrected_away"] == 1
    assert report["model"]["trained_rows"] == 49  # 48 cold-start rows + the desk's one
