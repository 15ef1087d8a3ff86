"""Reads what flows back to the widgets: chat.outbound (auto-acks, agent replies) and the
agents table (presence, for "is anyone online?"), through the runtime's TopicIO port (no
consumer group).

The service keeps no checkpoint: every replica reads every partition (any replica may hold a
conversation's open stream), starting ``outbound_replay_s`` back so that a widget reconnecting
after a restart still gets its replies; records written before the reader opened are marked
``replayed`` (see :mod:`ingest.chat.continuity` for why they are never emailed). Agents are
read from the beginning of their compacted topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from ingest.chat.desk import ChatDesk
from schemas.clock import Clock
from schemas.errors import HelplineError
from schemas.stage import TopicIO, TopicReader, TopicRecord
from schemas.topics import AGENTS, CHAT_OUTBOUND

log = logging.getLogger("helpline.chat.outbound")

POLL_TIMEOUT_S = 0.2
TOPIC_WAIT_S = 10.0  # for chat.outbound and agents to appear before start-up fails
RETRY_PAUSE_S = 1.0


class OutboundReader:
    def __init__(
        self, topics: TopicIO, desk: ChatDesk, clock: Clock
    ) -> None:
        self._topics = topics
        self._desk = desk
        self._clock = clock
        self._reader: TopicReader | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        since = self._clock() - timedelta(seconds=self._desk.settings.outbound_replay_s)
        reader = await self._topics.open_reader(
            (CHAT_OUTBOUND, AGENTS), TOPIC_WAIT_S, since={CHAT_OUTBOUND: since})
        if reader.missing:
            await reader.close()
            raise RuntimeError(f"topic {reader.missing[0].name} has no partitions "
                               "(was it created?)")
        self._reader = reader
        self.ready.set()

    async def stop(self) -> None:
        if self._reader is not None:
            await self._reader.close()

    async def follow(self, stop: asyncio.Event) -> None:
        reader = self._reader
        assert reader is not None, "start() first"
        while not stop.is_set():
            try:
                records = await reader.poll(POLL_TIMEOUT_S)
            except HelplineError as exc:  # the port's broker errors
                # the broker went away: keep the HTTP side up, retry
                log.warning("chat.outbound read failed, retrying: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_PAUSE_S)
                continue
            for record in records:
                if record.topic.name == CHAT_OUTBOUND.name:
                    self._reply(record, reader.written_before_open(record))
                else:
                    self._agent(record)

    def _reply(self, record: TopicRecord, replayed: bool) -> None:
        if record.error is not None:  # not ours to dead-letter: the producer's stage owns it
            log.warning("undecodable chat.outbound record skipped: %s", record.error)
            return
        if record.value is not None:
            self._desk.reply_arrived(record.value, replayed=replayed)

    def _agent(self, record: TopicRecord) -> None:
        if record.error is not None:
            log.warning("undecodable agents record skipped: %s", record.error)
        elif record.value is not None:
            self._desk.agent_changed(record.value)
        elif record.key:
            self._desk.agent_gone(record.key.decode("utf-8", "replace"))
