"""The folder watcher's shell against an in-memory IMAP folder and an in-memory broker.

Small real fakes (no mocks): the folder hands out UIDs like a server, the publisher keeps what
it acknowledged and can refuse chosen messages, like a broker that is down.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.imap.checkpoint import FolderCheckpoint, message_id_key, replay_bound_batches
from ingest.imap.connector import FolderWatcher
from ingest.imap.session import AuthRejected, FetchedMail, FolderInfo
from ingest.imap.status import StatusBoard
from ingest.imap.store import CheckpointLock, FileCheckpointStore, FileMessageIdLog
from ingest.settings import MailboxSettings
from schemas.raw import RawEmail
from schemas.topics import RAW_EMAIL, TopicSpec

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class MemoryFolder:
    def __init__(self, uidvalidity: int = 100) -> None:
        self.uidvalidity = uidvalidity
        self.messages: dict[int, bytes] = {}
        self.moved: dict[str, list[bytes]] = {}
        self.next_uid = 1
        self.arrived = threading.Event()

    def deliver(self, raw: bytes) -> int:
        uid = self.next_uid
        self.messages[uid] = raw
        self.next_uid += 1
        self.arrived.set()
        return uid

    def recreate(self, uidvalidity: int) -> None:
        """Like deleting and re-creating the mailbox: new UIDVALIDITY, UIDs from 1 again."""
        old = [self.messages[u] for u in sorted(self.messages)]
        self.uidvalidity, self.messages, self.next_uid = uidvalidity, {}, 1
        for raw in old:
            self.deliver(raw)


class MemorySession:
    def __init__(self, folder: MemoryFolder, *, idle: bool = True, login_error: str = "") -> None:
        self.folder = folder
        self.idle = idle
        self.login_error = login_error
        self.logins = 0
        self.header_fetches = 0
        self.fetches: list[list[int]] = []

    @property
    def supports_idle(self) -> bool:
        return self.idle

    def connect(self) -> None:
        self.logins += 1
        if self.login_error:
            raise AuthRejected(self.login_error)

    def close(self) -> None:
        pass

    def select(self, folder: str, readonly: bool) -> FolderInfo:
        f = self.folder
        return FolderInfo(f.uidvalidity, f.next_uid, len(f.messages))

    def search_after(self, uid: int) -> list[int]:
        found = [u for u in self.folder.messages if u > uid]
        return found or ([max(self.folder.messages)] if self.folder.messages else [])

    def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        self.fetches.append(list(uids))
        return [FetchedMail(u, self.folder.messages[u], None) for u in uids
                if u in self.folder.messages]

    def fetch_sizes(self, uids: Sequence[int]) -> dict[int, int]:
        return {u: len(self.folder.messages[u]) for u in uids if u in self.folder.messages}

    def fetch_message_ids(self, uids: Sequence[int]) -> dict[int, bytes | None]:
        self.header_fetches += len(uids)
        return {u: message_id_key(self.folder.messages[u]) for u in uids
                if u in self.folder.messages}

    def move(self, uids: Sequence[int], target: str) -> None:
        for u in uids:
            self.folder.moved.setdefault(target, []).append(self.folder.messages.pop(u))

    def wait_for_mail(self, stop: threading.Event, timeout_s: float, check_s: float) -> bool:
        while not stop.is_set():
            if self.folder.arrived.wait(check_s):
                self.folder.arrived.clear()
                return True
        return False


class MemoryBroker:
    def __init__(self) -> None:
        self.records: list[RawEmail] = []
        self.refuse: set[bytes] = set()

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        assert topic is RAW_EMAIL and key == b"support"
        if value.raw in self.refuse:
            raise ConnectionError("broker unavailable")
        self.records.append(value)

    async def publish_many(
        self, topic: TopicSpec, records: list[tuple[bytes, Any]]
    ) -> list[BaseException | None]:
        out: list[BaseException | None] = []
        for key, value in records:
            try:
                await self.publish(topic, key, value)
                out.append(None)
            except ConnectionError as exc:
                out.append(exc)
        return out


def mailbox(**changes: Any) -> MailboxSettings:
    base: dict[str, Any] = dict(
        name="support", host="127.0.0.1", user="support", password="x", fetch_batch_size=2,
        reconnect_backoff_initial_s=0.01, reconnect_backoff_max_s=0.02,
        idle_check_interval_s=0.01, auth_retry_interval_s=0.05,
    )
    return MailboxSettings(**{**base, **changes})


def watcher(tmp_path: Path, folder: MemoryFolder, broker: MemoryBroker, **kw: Any):
    session_kw = {k: kw.pop(k) for k in ("idle", "login_error") if k in kw}
    ids = FileMessageIdLog(tmp_path, 1000) if kw.pop("remember_ids", False) else None
    store = kw.pop("store", None) or FileCheckpointStore(tmp_path)
    status = StatusBoard()
    w = FolderWatcher(mailbox(**kw), "INBOX", MemorySession(folder, **session_kw), broker,
                      CheckpointLock(store), status, clock=lambda: NOW, jitter=lambda: 0.0,
                      message_ids=ids)
    return w, store, status


def mail(n: int) -> bytes:
    return f"Message-ID: <{n}@example.com>\r\nSubject: {n}\r\n\r\nbody {n}\r\n".encode()


async def test_sync_publishes_in_uid_order_and_checkpoints(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(5):
        folder.deliver(mail(n))
    w, store, status = watcher(tmp_path, folder, broker)
    assert await w.sync_once() == 5
    assert [r.raw for r in broker.records] == [mail(n) for n in range(5)]
    first = broker.records[0]
    assert (first.source, first.mailbox, first.folder, first.uidvalidity, first.uid) == (
        "imap", "support", "INBOX", 100, 1)
    assert first.received_at == NOW  # no INTERNALDATE from this server: the ingest time
    assert store.load("support").get("INBOX") == FolderCheckpoint(100, 5)
    assert await w.sync_once() == 0  # nothing new: nothing republished
    assert len(broker.records) == 5
    assert status.get("support", "INBOX").ingested == 5


async def test_checkpoint_stops_before_an_unacknowledged_message(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(5):
        folder.deliver(mail(n))
    broker.refuse = {mail(3)}  # UID 4
    w, store, _ = watcher(tmp_path, folder, broker)
    with pytest.raises(Exception, match="did not acknowledge 1"):
        await w.sync_once()
    assert store.load("support").get("INBOX") == FolderCheckpoint(100, 3)
    broker.refuse = set()
    await w.sync_once()
    published = [r.uid for r in broker.records if r.uid is not None]
    assert sorted(published) == [1, 2, 3, 4, 5]  # nothing lost, nothing published twice
    assert store.load("support").get("INBOX") == FolderCheckpoint(100, 5)


async def test_uidvalidity_change_resyncs_the_folder(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(3):
        folder.deliver(mail(n))
    w, store, status = watcher(tmp_path, folder, broker)
    await w.sync_once()
    folder.recreate(uidvalidity=200)
    folder.deliver(mail(3))
    await w.sync_once()
    assert store.load("support").get("INBOX") == FolderCheckpoint(200, 4)
    assert status.get("support", "INBOX").resyncs == 1
    # every message reached the topic; republished ones are the same bytes (deduped downstream)
    assert {r.raw for r in broker.records} == {mail(n) for n in range(4)}
    assert {r.raw for r in broker.records if r.uidvalidity == 200} == {mail(n) for n in range(4)}


async def test_move_to_after_acknowledgement(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(3):
        folder.deliver(mail(n))
    broker.refuse = {mail(2)}
    w, _, _ = watcher(tmp_path, folder, broker, move_to="Done")
    with pytest.raises(Exception, match="acknowledge"):
        await w.sync_once()
    assert folder.moved["Done"] == [mail(0), mail(1)]  # never moves what Kafka did not take
    assert list(folder.messages.values()) == [mail(2)]


async def test_idle_brings_new_mail_and_stop_ends_the_watcher(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    w, _, status = watcher(tmp_path, folder, broker)
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    for _ in range(200):
        if status.get("support", "INBOX").state == "idle":
            break
        await asyncio.sleep(0.01)
    folder.deliver(mail(1))
    for _ in range(200):
        if broker.records:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [r.raw for r in broker.records] == [mail(1)]
    assert status.get("support", "INBOX").state == "stopped"


async def test_auth_failure_is_a_state_not_a_crash_loop(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    w, _, status = watcher(tmp_path, folder, broker, idle=False,
                           login_error="[AUTHENTICATIONFAILED] Authentication failed.")
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    for _ in range(100):
        if status.get("support", "INBOX").state == "auth_failed":
            break
        await asyncio.sleep(0.01)
    health = status.get("support", "INBOX")
    assert health.state == "auth_failed"
    assert health.detail == "[AUTHENTICATIONFAILED] Authentication failed."
    assert not status.healthy()
    report = status.report()
    assert report["ready"] is False
    assert report["folders"] == [{
        "mailbox": "support", "folder": "INBOX", "state": "auth_failed",
        "detail": "[AUTHENTICATIONFAILED] Authentication failed.", "idle": None, "ingested": 0,
        "quarantined": 0, "resyncs": 0, "failures": 1, "last_ingest_at": None}]
    await asyncio.sleep(0.12)
    logins = w.session.logins
    assert logins <= 4  # retried at auth_retry_interval_s, not in a tight loop
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_message_kafka_keeps_refusing_does_not_block_the_folder(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(5):
        folder.deliver(mail(n))
    broker.refuse = {mail(1)}  # e.g. larger than the topic's max.message.bytes
    w, store, status = watcher(tmp_path, folder, broker, max_publish_attempts=3)
    for _ in range(2):
        with pytest.raises(Exception, match="did not acknowledge 1"):
            await w.sync_once()
        assert store.load("support").get("INBOX") == FolderCheckpoint(100, 1)
    await w.sync_once()  # third refusal: reported and left on the server
    assert store.load("support").get("INBOX") == FolderCheckpoint(100, 5)
    assert [r.uid for r in broker.records] == [1, 3, 4, 5]  # the neighbours exactly once
    assert status.get("support", "INBOX").quarantined == 1
    assert 2 in folder.messages


async def test_broker_down_blocks_instead_of_skipping(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(2):
        folder.deliver(mail(n))
    broker.refuse = {mail(0), mail(1)}
    w, store, status = watcher(tmp_path, folder, broker, max_publish_attempts=1)
    for _ in range(3):
        with pytest.raises(Exception, match="did not acknowledge 2"):
            await w.sync_once()
    assert store.load("support").get("INBOX") == FolderCheckpoint(100, 0)
    assert status.get("support", "INBOX").quarantined == 0


async def test_resync_skips_mail_already_published(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(3):
        folder.deliver(mail(n))
    w, store, status = watcher(tmp_path, folder, broker, remember_ids=True)
    await w.sync_once()
    folder.recreate(uidvalidity=200)  # same three mails, UIDs 1-3 again
    folder.deliver(mail(3))
    folder.deliver(b"Subject: no Message-ID\r\n\r\nhi\r\n")
    await w.sync_once()
    assert [r.raw for r in broker.records] == [
        *(mail(n) for n in range(3)), mail(3), b"Subject: no Message-ID\r\n\r\nhi\r\n"]
    assert status.get("support", "INBOX").resync_skipped == 3
    assert store.load("support").get("INBOX") == FolderCheckpoint(200, 5)  # resync finished
    fetched_headers = w.session.header_fetches
    folder.deliver(mail(4))
    await w.sync_once()  # ordinary new mail: no header check, no skipping
    assert w.session.header_fetches == fetched_headers
    assert broker.records[-1].raw == mail(4)


async def test_resync_interrupted_by_a_crash_still_skips(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(4):
        folder.deliver(mail(n))
    w, store, _ = watcher(tmp_path, folder, broker, remember_ids=True)
    await w.sync_once()
    folder.recreate(uidvalidity=200)
    folder.messages[2] = mail(99)  # UID 2 is now a mail Kafka never saw
    broker.refuse = {mail(99)}  # ...and the broker fails on it: the resync stops there
    with pytest.raises(Exception, match="acknowledge"):
        await w.sync_once()
    assert store.load("support").get("INBOX") == FolderCheckpoint(200, 1, resync_below=5)
    broker.refuse = set()
    fresh, _, _ = watcher(tmp_path, folder, broker, remember_ids=True)  # a new process
    await fresh.sync_once()
    assert [r.raw for r in broker.records][4:] == [mail(99)]
    assert store.load("support").get("INBOX") == FolderCheckpoint(200, 4)


async def test_without_idle_the_folder_is_polled(tmp_path: Path) -> None:
    folder, broker = MemoryFolder(), MemoryBroker()
    w, _, status = watcher(tmp_path, folder, broker, idle=False, poll_interval_s=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    for _ in range(200):
        if status.get("support", "INBOX").state == "polling":
            break
        await asyncio.sleep(0.01)
    assert status.get("support", "INBOX").idle_supported is False
    folder.deliver(mail(1))
    for _ in range(200):
        if broker.records:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [r.raw for r in broker.records] == [mail(1)]


async def test_fetch_batches_are_bounded_in_bytes_too(tmp_path: Path) -> None:
    folder = MemoryFolder()
    sizes = [100, 100, 900, 100, 2000, 100, 100, 100]
    for i, size in enumerate(sizes):
        folder.deliver(mail(i).ljust(size, b"x"))
    broker = MemoryBroker()
    w, _store, _status = watcher(tmp_path, folder, broker, fetch_batch_size=3,
                                 fetch_batch_bytes=1000)
    assert await w.sync_once() == len(sizes)
    # at most 3 mails and 1000 bytes a FETCH; the 2000-byte mail alone; sizes are asked for
    # the first 3 UIDs first (so the first FETCH starts soon), then for the rest
    assert w.session.fetches == [[1, 2], [3], [4], [5], [6, 7, 8]]  # type: ignore[attr-defined]
    assert [r.uid for r in broker.records] == list(range(1, 9))


async def test_a_single_new_mail_is_fetched_without_asking_sizes(tmp_path: Path) -> None:
    folder = MemoryFolder()
    folder.deliver(mail(1))
    w, _store, _status = watcher(tmp_path, folder, MemoryBroker())

    def no_sizes(uids: Sequence[int]) -> dict[int, int]:
        raise AssertionError("one mail needs no sizes (an extra round trip under IDLE)")

    w.session.fetch_sizes = no_sizes  # type: ignore[attr-defined]
    assert await w.sync_once() == 1


async def test_a_slow_disk_bounds_what_a_kill_would_republish(tmp_path: Path) -> None:
    """Saves run beside the next FETCH, one at a time: with a disk far slower than Kafka, what
    is published but not yet durably checkpointed (what a kill -9 would republish) never
    exceeds replay_bound_batches."""
    folder, broker = MemoryFolder(), MemoryBroker()
    for n in range(120):
        folder.deliver(mail(n))
    exposure: list[int] = []

    class SlowStore(FileCheckpointStore):
        durable = 0

        def save(self, state: Any) -> None:
            exposure.append(len(broker.records) - self.durable)
            time.sleep(0.02)
            super().save(state)
            self.durable = state.get("INBOX").last_uid

    every, ahead, size = 1, 2, 2
    w, store, _ = watcher(tmp_path, folder, broker, store=SlowStore(tmp_path),
                          checkpoint_every_batches=every, max_batches_in_flight=ahead,
                          fetch_batch_size=size)
    assert await w.sync_once() == 120
    assert store.load("support").get("INBOX") == FolderCheckpoint(100, 120)
    assert max(exposure) <= replay_bound_batches(every, ahead) * size, exposure
    assert len(exposure) > 5
