"""The explicit contract between the runtime and what it runs: every stage is a
``schemas.stage.Stage`` (so the runner reads ``single_writer``, ``own_tables``, ``drain``
directly), every connector a ``schemas.stage.Connector``, and time comes from one Clock port."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from runtime.workers import SERVICES, STAGES, load
from schemas.clock import Clock, utcnow
from schemas.stage import Connector, In, Out, Stage
from schemas.topics import RAW_EMAIL

STAGE_CLASSES = {
    "normalize": "ingest.mime.stage:NormalizeStage",
    "tickets": "tickets.stage:TicketsStage",
    "classify": "classify.stage:ClassifyStage",
    "route": "route.stage:RouteStage",
    "notify": "notify.stage:NotifyStage",
}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_stage_class_declares_the_contract(name: str) -> None:
    cls = load(STAGE_CLASSES[name])
    assert Stage in cls.__mro__  # subclassed, so it has every default
    for attribute in ("tables", "tick_interval", "single_writer", "own_tables", "drain", "tick"):
        assert hasattr(cls, attribute), attribute
    assert callable(load(STAGES[name]))


def test_single_writers_are_the_stages_with_global_state() -> None:
    writers = {n for n in STAGES if load(STAGE_CLASSES[n]).single_writer}
    assert writers == {"tickets", "route"}
    for name in writers:
        own = load(STAGE_CLASSES[name]).own_tables
        assert own and all(t.cleanup == "compact" for t in own)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_a_connector(name: str) -> None:
    connector = load(SERVICES[name])
    assert isinstance(connector, Connector) and callable(connector.run)
    if name == "imap":  # reports "not ready" while a mailbox needs re-auth
        assert connector.status is importlib.import_module("ingest.imap.service").STATUS
        assert "ready" in connector.status.report()


class Minimal(Stage):
    name = "minimal"
    inputs = (RAW_EMAIL,)

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        return []


def test_a_stage_gets_the_defaults_it_does_not_declare() -> None:
    stage = Minimal()
    assert (stage.tables, stage.tick_interval, stage.single_writer, stage.own_tables) == (
        (), None, False, ())
    assert stage.tick(datetime(2026, 1, 1, tzinfo=UTC)) == []
    assert asyncio.run(stage.drain()) is None


def test_the_clock_port() -> None:
    fixed = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    def frozen() -> datetime:
        return fixed

    clocks: list[Clock] = [utcnow, frozen]
    assert clocks[1]() == fixed
    now = clocks[0]()
    assert now.tzinfo is not None and now.utcoffset() == UTC.utcoffset(now)
