"""Durable checkpoint storage for the IMAP connector: one small JSON file per mailbox.

Why a local file and not a compacted topic: the checkpoint has exactly one reader and writer
(this mailbox's connector), it is read once at start-up and written after every acknowledged
batch, so a file costs one fsync and needs no consumer to restore it. It survives kill -9 and
power loss (write to a temp file, fsync, rename over, fsync the directory). Losing it is safe:
the folder is read again from the start and downstream dedupes by Message-ID.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ingest.imap.checkpoint import (
    SEEN_KEY_BYTES,
    FolderCheckpoint,
    MailboxState,
    StateError,
    decode_state,
    encode_state,
)

log = logging.getLogger(__name__)


class CheckpointStore(Protocol):
    def load(self, mailbox: str) -> MailboxState: ...

    def save(self, state: MailboxState) -> None: ...


def state_file_name(mailbox: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", mailbox)[:60]
    digest = hashlib.sha256(mailbox.encode()).hexdigest()[:12]
    return f"{safe}-{digest}.json"


class FileCheckpointStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, mailbox: str) -> Path:
        return self.directory / state_file_name(mailbox)

    def load(self, mailbox: str) -> MailboxState:
        path = self.path(mailbox)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return MailboxState(mailbox, {})
        try:
            return decode_state(data, mailbox)
        except StateError as exc:
            # Keep the bad file for a human; a resync from the start is safe (dedupe downstream).
            bad = path.with_suffix(".corrupt")
            os.replace(path, bad)
            log.warning("imap checkpoint unreadable, full resync", extra={
                "mailbox": mailbox, "error": str(exc), "moved_to": str(bad)})
            return MailboxState(mailbox, {})

    def save(self, state: MailboxState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(state.mailbox)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, encode_state(state))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class MessageIdLog(Protocol):
    """Fingerprints of the Message-IDs already published from a folder, so a resync after a
    UIDVALIDITY change skips mail Kafka already has."""

    def load(self, mailbox: str, folder: str) -> set[bytes]: ...

    def append(self, mailbox: str, folder: str, keys: Sequence[bytes]) -> None: ...


class FileMessageIdLog:
    """An append-only file of fixed-size keys per folder, fsynced per batch; a torn last
    entry (kill -9 mid-write) is ignored; past ``2 * max_entries`` only the newest
    ``max_entries`` are kept."""

    def __init__(self, directory: str | Path, max_entries: int) -> None:
        self.directory = Path(directory)
        self.max_entries = max_entries

    def path(self, mailbox: str, folder: str) -> Path:
        folder_hash = hashlib.sha256(folder.encode()).hexdigest()[:12]
        return self.directory / f"{state_file_name(mailbox)[:-5]}.{folder_hash}.seen"

    def _read(self, path: Path) -> bytes:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return b""
        return data[: len(data) - len(data) % SEEN_KEY_BYTES]

    def load(self, mailbox: str, folder: str) -> set[bytes]:
        data = self._read(self.path(mailbox, folder))
        n = SEEN_KEY_BYTES
        return {data[i : i + n] for i in range(0, len(data), n)}

    def append(self, mailbox: str, folder: str, keys: Sequence[bytes]) -> None:
        if not keys:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(mailbox, folder)
        with path.open("ab") as f:
            if f.tell() % SEEN_KEY_BYTES:  # a torn entry from a crash: realign
                f.truncate(f.tell() - f.tell() % SEEN_KEY_BYTES)
            f.write(b"".join(keys))
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        if size > 2 * self.max_entries * SEEN_KEY_BYTES:
            newest = self._read(path)[-self.max_entries * SEEN_KEY_BYTES :]
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(newest)
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)


class CheckpointLock:
    """Serializes read-modify-write of one mailbox's checkpoint file between its folders."""

    def __init__(self, store: CheckpointStore) -> None:
        self.store = store
        self._lock = asyncio.Lock()

    async def commit(self, mailbox: str, folder: str, checkpoint: FolderCheckpoint) -> None:
        async with self._lock:
            state = await asyncio.to_thread(self.store.load, mailbox)
            if state.get(folder) == checkpoint:
                return
            await asyncio.to_thread(self.store.save, state.with_folder(folder, checkpoint))
