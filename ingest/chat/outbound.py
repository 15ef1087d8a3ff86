"""Reads what flows back to the widgets: chat.outbound (auto-acks, agent replies) and the
agents table (presence, for "is anyone online?"). An aiokafka adapter; no consumer group.

The service keeps no checkpoint: every replica reads every partition (any replica may hold a
conversation's open stream), starting ``outbound_replay_s`` back so that a widget reconnecting
after a restart still gets its replies; records older than the start are marked ``replayed``
(see :mod:`ingest.chat.continuity` for why they are never emailed). Agents are read from the
beginning of their compacted topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from ingest.chat.desk import ChatDesk
from schemas.codec import DecodeError, decode
from schemas.directory import Agent
from schemas.notification import ChatReply
from schemas.stage import KafkaConnection
from schemas.topics import AGENTS, CHAT_OUTBOUND

log = logging.getLogger("helpline.chat.outbound")

POLL_TIMEOUT_MS = 200
METADATA_ATTEMPTS = 50
METADATA_PAUSE_S = 0.2
RETRY_PAUSE_S = 1.0


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    for _ in range(METADATA_ATTEMPTS):
        # aiokafka has no public "refresh metadata"; topics() returns a copy without storing it
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        await asyncio.sleep(METADATA_PAUSE_S)
    raise RuntimeError(f"topic {topic} has no partitions (was it created?)")


class OutboundReader:
    def __init__(
        self, conn: KafkaConnection, desk: ChatDesk, clock: Callable[[], datetime]
    ) -> None:
        self._conn = conn
        self._desk = desk
        self._clock = clock
        self._consumer = AIOKafkaConsumer(
            **conn.options(), enable_auto_commit=False, isolation_level="read_committed"
        )
        self._replies_topic = conn.topic(CHAT_OUTBOUND)
        self._replay_until: dict[TopicPartition, int] = {}
        self.ready = asyncio.Event()

    async def start(self) -> None:
        await self._consumer.start()
        try:
            await self._position()
        except BaseException:
            await self._consumer.stop()
            raise
        self.ready.set()

    async def _position(self) -> None:
        replies = await _partitions(self._consumer, self._replies_topic)
        agents = await _partitions(self._consumer, self._conn.topic(AGENTS))
        self._consumer.assign(replies + agents)
        await self._consumer.seek_to_beginning(*agents)
        since_ms = int(
            (self._clock().timestamp() - self._desk.settings.outbound_replay_s) * 1000
        )
        found = await self._consumer.offsets_for_times({tp: max(0, since_ms) for tp in replies})
        for tp in replies:
            hit = found.get(tp)
            if hit is None:
                await self._consumer.seek_to_end(tp)
            else:
                self._consumer.seek(tp, hit.offset)
        self._replay_until = await self._consumer.end_offsets(replies)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                batch = await self._consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
            except KafkaError as exc:  # the broker went away: keep the HTTP side up, retry
                log.warning("chat.outbound read failed, retrying: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_PAUSE_S)
                continue
            for tp, records in batch.items():
                for record in records:
                    if tp.topic == self._replies_topic:
                        self._reply(record.value, record.offset < self._replay_until.get(tp, 0))
                    else:
                        self._agent(record.key, record.value)

    def _reply(self, value: bytes | None, replayed: bool) -> None:
        if value is None:
            return
        try:
            reply = decode(ChatReply, value)
        except DecodeError as exc:  # not ours to dead-letter: the producer's stage owns it
            log.warning("undecodable chat.outbound record skipped: %s", exc)
            return
        self._desk.reply_arrived(reply, replayed=replayed)

    def _agent(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key:
                self._desk.agent_gone(key.decode("utf-8", "replace"))
            return
        try:
            self._desk.agent_changed(decode(Agent, value))
        except DecodeError as exc:
            log.warning("undecodable agents record skipped: %s", exc)
