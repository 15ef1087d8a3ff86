"""The one topology registry (schemas.topics.PIPELINE / CONNECTORS): the workers, the lag
column's consumers and every stage's inputs and tables are derived from it; each stage's dead
letters go to its own topic; `helpline topics create` creates every topic it names."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from datetime import datetime

import pytest

from runtime import commands, workers
from runtime.kafka_io import create_topics
from runtime.runner import StageRunner
from schemas.stage import In, KafkaConnection, Out, Stage
from schemas.topics import (
    ALL,
    BY_NAME,
    CONNECTORS,
    CONSUMERS,
    PIPELINE,
    STAGE_TOPICS,
    TICKET_EVENTS,
    dlq_name,
)

STAGE_CLASSES = {
    "normalize": "ingest.mime.stage:NormalizeStage",
    "tickets": "tickets.stage:TicketsStage",
    "classify": "classify.stage:ClassifyStage",
    "route": "route.stage:RouteStage",
    "notify": "notify.stage:NotifyStage",
}


def test_workers_are_derived_from_the_registry() -> None:
    assert list(workers.STAGES) == ["normalize", "tickets", "classify", "route", "notify"]
    assert set(workers.SERVICES) == {"imap", "smtp", "chat"}
    assert workers.STAGES == {s.name: f"{s.module}:build_stage" for s in PIPELINE}
    for ref in [*workers.STAGES.values(), *workers.SERVICES.values()]:
        assert workers.load(ref) is not None


def test_consumers_as_before() -> None:
    assert commands.CONSUMERS is CONSUMERS
    assert CONSUMERS == {
        "raw.email": ("normalize",),
        "raw.chat": ("normalize",),
        "messages": ("tickets",),
        "ticket.commands": ("tickets",),
        "ticket.events": ("tickets", "classify", "route", "notify"),
        "notify.outbox": ("notify",),
        "tickets.bin": ("tickets",),  # restores from the "not a ticket" bin (#23)
    }


@pytest.mark.parametrize("name", sorted(STAGE_TOPICS))
def test_each_stage_reads_what_the_registry_says(name: str) -> None:
    cls = workers.load(STAGE_CLASSES[name])
    entry = STAGE_TOPICS[name]
    # (tickets reads ticket.events as plain JSON: same topic, lighter decoding)
    assert [t.name for t in cls.inputs] == [t.name for t in entry.inputs]
    assert cls.tables == entry.tables
    assert set(cls.own_tables) <= set(entry.tables) & set(entry.outputs)


def test_every_topic_of_the_topology_is_created() -> None:
    named = {t for s in PIPELINE for t in (*s.inputs, *s.outputs, *s.tables, s.dlq)}
    named |= {t for c in CONNECTORS for t in (*c.outputs, *c.reads)}
    assert named <= set(ALL)
    assert len(BY_NAME) == len(ALL)  # no two specs share a name
    assert inspect.signature(create_topics).parameters["specs"].default is ALL
    assert {s.dlq.name for s in PIPELINE} == {dlq_name(s.name) for s in PIPELINE}


def test_every_input_has_a_writer() -> None:
    written = {t for s in PIPELINE for t in s.outputs} | {t for c in CONNECTORS for t in c.outputs}
    consumed = {t for s in PIPELINE for t in s.inputs}
    # ticket.commands and the reference tables are written by the CLI and the ticket API
    assert {t.name for t in consumed - written} == {"ticket.commands"}


class Named(Stage):
    inputs = (TICKET_EVENTS,)

    def __init__(self, name: str) -> None:
        self.name = name

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        return []


@pytest.mark.parametrize("name", [*STAGE_TOPICS, "custom"])
def test_dead_letters_go_to_the_stage_s_own_topic(name: str) -> None:
    runner = StageRunner(Named(name), KafkaConnection("127.0.0.1:1"))
    assert runner._dlq.name == f"dlq.{name}"
    assert runner._dlq.name != "dlq.normalize" or name == "normalize"
