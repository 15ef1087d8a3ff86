"""``publish_ruleset`` through the TopicIO port: a broker that is not there is a PublishError
(what ``helpline rules push`` prints), and the record goes to the rules topic keyed by name."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from classify.publish import PublishError, publish_ruleset
from runtime.topic_io import KafkaTopicIO
from schemas.directory import RulesetRecord
from schemas.stage import KafkaConnection, NoTopicIO
from schemas.topics import RULES, TopicSpec

RECORD = RulesetRecord(name="default", version="v1", source="", pushed_at=datetime.now(UTC))


class Written(NoTopicIO):
    """A TopicIO that keeps what is published (reads refused, as NoTopicIO)."""

    def __init__(self) -> None:
        self.records: list[tuple[TopicSpec, bytes, Any, float]] = []

    async def publish(self, spec: TopicSpec, records: Sequence[tuple[bytes, Any]],
                      timeout_s: float) -> None:
        self.records.extend((spec, k, v, timeout_s) for k, v in records)


def test_the_ruleset_is_written_to_the_rules_topic_keyed_by_its_name() -> None:
    topics = Written()
    asyncio.run(publish_ruleset(topics, RECORD, timeout_s=5.0))
    assert topics.records == [(RULES, b"default", RECORD, 5.0)]


def test_no_broker_is_a_publish_error_naming_the_address() -> None:
    topics = KafkaTopicIO(KafkaConnection("127.0.0.1:1"))
    with pytest.raises(PublishError, match=r"127\.0\.0\.1:1"):
        asyncio.run(publish_ruleset(topics, RECORD, timeout_s=2.0))


def test_what_is_not_a_broker_failure_is_not_hidden() -> None:
    class Broken(NoTopicIO):
        async def publish(self, spec: TopicSpec, records: Sequence[tuple[bytes, Any]],
                          timeout_s: float) -> None:
            raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(publish_ruleset(Broken(), RECORD))
