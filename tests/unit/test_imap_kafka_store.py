"""The IMAP checkpoint as a wire record on imap.checkpoints: every folder's progress (resync
marker included) survives the trip, and the store restores the latest per mailbox, a
tombstone or an unreadable record meaning "read that mailbox from its start"."""

from __future__ import annotations

import asyncio
from typing import Any

from ingest.imap.checkpoint import FolderCheckpoint, MailboxState
from ingest.imap.kafka_store import KafkaCheckpointStore, from_record, to_record
from schemas.codec import decode, encode
from schemas.raw import ImapCheckpoint
from schemas.stage import TopicRecord
from schemas.topics import IMAP_CHECKPOINTS

STATE = MailboxState("support", {"INBOX": FolderCheckpoint(7, 120),
                                 "Archive": FolderCheckpoint(9, 40, resync_below=55)})


def test_a_checkpoint_survives_the_wire() -> None:
    wire = encode(to_record(STATE))
    assert from_record(decode(ImapCheckpoint, wire)) == STATE


def rec(key: bytes, value: Any, offset: int, error: str | None = None) -> TopicRecord:
    return TopicRecord(IMAP_CHECKPOINTS, key, value, None, 0, offset, error=error)


class Topics:
    def __init__(self, records: list[TopicRecord]) -> None:
        self.records = records

    async def read_to_end(self, spec: Any, timeout_s: float) -> list[TopicRecord]:
        assert spec is IMAP_CHECKPOINTS
        return self.records


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    async def publish(self, topic: Any, key: bytes, value: Any) -> None:
        assert topic is IMAP_CHECKPOINTS
        self.sent.append((key, value))


def test_restore_keeps_the_latest_per_mailbox_and_saves_wait_for_the_write() -> None:
    older = MailboxState("support", {"INBOX": FolderCheckpoint(7, 3)})
    sales = MailboxState("sales", {"INBOX": FolderCheckpoint(1, 9)})
    topics = Topics([rec(b"support", to_record(older), 0), rec(b"sales", to_record(sales), 1),
                     rec(b"support", to_record(STATE), 2), rec(b"sales", None, 3),
                     rec(b"gone", None, 4, error="bad JSON")])
    publisher = Publisher()

    async def go() -> KafkaCheckpointStore:
        store = await KafkaCheckpointStore.restore(topics, publisher, 5)  # type: ignore[arg-type]
        assert store.load("support") == STATE
        assert store.load("sales") == MailboxState("sales", {})  # tombstoned
        newer = STATE.with_folder("INBOX", FolderCheckpoint(7, 121))
        await asyncio.to_thread(store.save, newer)  # as CheckpointLock calls it
        assert store.load("support") == newer
        return store

    asyncio.run(go())
    assert [(k, from_record(v)) for k, v in publisher.sent] == [
        (b"support", STATE.with_folder("INBOX", FolderCheckpoint(7, 121)))]
