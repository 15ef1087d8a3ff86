"""IMAP checkpoints in a compacted Kafka topic (``imap.checkpoints``, keyed by mailbox), so the
connector needs no disk: a pod rescheduled onto another node reads where every folder was and
does not fetch whole mailboxes again.

The connector is the one writer of its mailboxes' keys: it reads the topic to its end once at
start, then keeps the latest state in memory and writes each new one (acks=all) before the
watcher goes on, as :class:`~ingest.imap.store.FileCheckpointStore` fsyncs its file. The watchers
call the store from a worker thread (:class:`~ingest.imap.store.CheckpointLock`), so a save
hands its write to the event loop and waits for the broker's acknowledgement there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from ingest.imap.checkpoint import FolderCheckpoint, MailboxState
from schemas.raw import ImapCheckpoint, ImapFolderMark
from schemas.stage import Publisher, TopicIO
from schemas.topics import IMAP_CHECKPOINTS

log = logging.getLogger(__name__)


def to_record(state: MailboxState) -> ImapCheckpoint:
    return ImapCheckpoint(mailbox=state.mailbox, folders=tuple(
        ImapFolderMark(folder=name, uidvalidity=cp.uidvalidity, last_uid=cp.last_uid,
                       resync_below=cp.resync_below)
        for name, cp in sorted(state.folders.items())))


def from_record(record: ImapCheckpoint) -> MailboxState:
    return MailboxState(record.mailbox, {
        f.folder: FolderCheckpoint(f.uidvalidity, f.last_uid, f.resync_below)
        for f in record.folders})


class KafkaCheckpointStore:
    """The :class:`~ingest.imap.store.CheckpointStore` port on a compacted topic."""

    def __init__(self, states: Mapping[str, MailboxState], publisher: Publisher,
                 loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self._states = dict(states)
        self._publisher = publisher
        self._loop = loop
        self._timeout_s = timeout_s

    @classmethod
    async def restore(cls, topics: TopicIO, publisher: Publisher, timeout_s: float
                      ) -> KafkaCheckpointStore:
        """Read every mailbox's latest checkpoint (raises TimeoutError if the broker does not
        answer in ``timeout_s``: better no start than a full re-read of every mailbox)."""
        states: dict[str, MailboxState] = {}
        for r in await topics.read_to_end(IMAP_CHECKPOINTS, timeout_s):
            mailbox = r.key.decode(errors="replace") if r.key is not None else ""
            if r.value is None:
                if r.error:  # unreadable: that mailbox is read from its start (safe, dedupe)
                    log.warning("imap checkpoint record unreadable", extra={
                        "mailbox": mailbox, "offset": r.offset, "error": r.error})
                states.pop(mailbox, None)
            elif isinstance(r.value, ImapCheckpoint):
                states[r.value.mailbox] = from_record(r.value)
        log.info("imap checkpoints restored", extra={"mailboxes": len(states)})
        return cls(states, publisher, asyncio.get_running_loop(), timeout_s)

    def load(self, mailbox: str) -> MailboxState:
        return self._states.get(mailbox) or MailboxState(mailbox, {})

    def save(self, state: MailboxState) -> None:
        """Called from a worker thread: returns once the broker acknowledged the record."""
        write = self._publisher.publish(IMAP_CHECKPOINTS, state.mailbox.encode(),
                                        to_record(state))
        asyncio.run_coroutine_threadsafe(write, self._loop).result(self._timeout_s)
        self._states[state.mailbox] = state
