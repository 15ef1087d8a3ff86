"""Read a whole topic as it is now: everything below the current end offsets, decoded.

Deterministic for "nothing was published" assertions: the chat service answers 202 only after
the broker acknowledged the write, so every accepted record is below the end offsets read after
the requests; there is no idle timeout to guess.
"""

from __future__ import annotations

import asyncio
from typing import Any

from schemas.stage import KafkaConnection
from schemas.topics import TopicSpec
from tests.support.kafka import values_to_end

READ_TIMEOUT_S = 30.0


async def read_all(conn: KafkaConnection, spec: TopicSpec) -> list[Any]:
    return await values_to_end(conn, spec, READ_TIMEOUT_S)


def topic_now(conn: KafkaConnection, spec: TopicSpec) -> list[Any]:
    return asyncio.run(read_all(conn, spec))
