"""A stage's tables: compacted topics read from the beginning into the stage before it
consumes any input (``restore``), then followed for updates written by others (``follow``)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from runtime.errors import HelplineError
from runtime.topic_io import KafkaTopicReader
from schemas.stage import KafkaConnection, Stage, TopicRecord
from schemas.topics import TopicSpec

log = logging.getLogger("helpline.runner")

RESTORE_MAX_RECORDS = 10_000  # records a poll hands over at most
FOLLOW_POLL_S = 0.5  # a poll for updates once restored
CURRENT_CHECK_S = 0.05  # between looks at the follower's positions (see TableFeed.current)


class TableFeed:
    def __init__(self, stage: Stage, conn: KafkaConnection, tables: dict[str, TopicSpec],
                 decoders: dict[str, Any], own_header: tuple[str, bytes],
                 catchup_timeout_s: float, own_tables: tuple[TopicSpec, ...] = ()) -> None:
        self.stage = stage
        self.conn = conn
        self._tables = tables
        self._decoders = decoders
        self._header = own_header
        self.catchup_timeout_s = catchup_timeout_s
        self._reader: KafkaTopicReader | None = None  # the follower's, once restored
        # Tables only this stage writes (a single writer's state): while it is the active
        # replica, everything there is its own and already in memory, so they are not fetched
        # at all (the tickets worker read each ticket.state write back, at a cost per message)
        self._own = [conn.topic(s) for s in own_tables]

    async def restore(self) -> None:
        """Read every table topic from the beginning up to its current end, into the stage;
        :meth:`follow` reads on with the same reader."""
        reader = await KafkaTopicReader(
            self.conn, list(self._tables.values()), self.catchup_timeout_s,
            wait_for_topics=False, max_records=RESTORE_MAX_RECORDS, decoders=self._decoders,
        ).open()
        try:
            if reader.missing:
                raise HelplineError(f"table topic {self.conn.topic(reader.missing[0])} missing: "
                                    "run `helpline topics create`")
            restored = 0
            try:
                async for records in reader.catch_up():
                    restored += self._apply(records)
            except TimeoutError:
                raise HelplineError(
                    f"tables not restored within {self.catchup_timeout_s}s") from None
        except BaseException:
            await reader.close()
            raise
        log.info("tables restored", extra={"stage": self.stage.name, "records": restored})
        self._reader = reader

    async def follow(self, stop: asyncio.Event) -> None:
        """Keep feeding table updates written by others (reference data, other replicas)."""
        reader = self._reader
        assert reader is not None, "restore() first"
        try:
            while not stop.is_set():
                # Our own writes are already in the stage's memory (replaying them live could
                # overwrite newer state with older): skipped, before they are even decoded
                self._apply(await reader.poll(FOLLOW_POLL_S, skip_header=self._header))
        finally:
            await reader.close()

    async def current(self) -> None:
        """Wait until :meth:`follow` has applied every table record written before now: a
        standby that has just become the active replica must hold all its predecessor wrote
        (``runtime.group``) before it processes a record. Bounded like the restore. Then the
        stage's own tables are no longer fetched (see ``own_tables``) until :meth:`follow_own`."""
        reader = self._reader
        if reader is None:
            return
        reader.resume(self._own)  # what another replica wrote there before now, too
        ends = await reader.end_offsets()
        deadline = time.monotonic() + self.catchup_timeout_s
        # positions move when a poll hands records out, and follow applies them before it
        # yields again: a position at the end means its records are in the stage
        while not await reader.read_up_to(ends):
            if time.monotonic() >= deadline:
                raise HelplineError(
                    f"tables not read up to date within {self.catchup_timeout_s}s")
            await asyncio.sleep(CURRENT_CHECK_S)
        reader.pause(self._own)  # from now on only we write them
        log.info("tables up to date", extra={"stage": self.stage.name})

    def follow_own(self) -> None:
        """A standby: follow the tables the active replica writes again."""
        if self._reader is not None:
            self._reader.resume(self._own)

    def _apply(self, records: list[TopicRecord]) -> int:
        n = 0
        for r in records:
            if r.key is None:
                continue
            if r.error is not None:
                log.warning("undecodable table record skipped",
                            extra={"stage": self.stage.name, "topic": r.topic.name,
                                   "offset": r.offset})
                continue
            self.stage.restore(r.topic, r.key, r.value)
            n += 1
        return n
