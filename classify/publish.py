"""Publishing a ruleset to the compacted rules topic (the edge of ``helpline rules push``)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.codec import encode
from schemas.directory import RulesetRecord
from schemas.stage import KafkaConnection
from schemas.topics import RULES


class PublishError(Exception):
    """The broker could not be reached or did not acknowledge the ruleset."""


async def publish_ruleset(conn: KafkaConnection, record: RulesetRecord) -> None:
    """Write ``record`` keyed by its name; returns once the broker acknowledged it."""
    producer = AIOKafkaProducer(**conn.options(), acks="all", enable_idempotence=True)
    try:
        await producer.start()
        await producer.send_and_wait(conn.topic(RULES), encode(record), key=record.name.encode())
    except KafkaError as exc:
        raise PublishError(f"{conn.bootstrap_servers}: {type(exc).__name__}: {exc}") from None
    finally:
        await producer.stop()
