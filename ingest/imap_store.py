"""Durable checkpoint storage for the IMAP connector: one small JSON file per mailbox.

Why a local file and not a compacted topic: the checkpoint has exactly one reader and writer
(this mailbox's connector), it is read once at start-up and written after every acknowledged
batch, so a file costs one fsync and needs no consumer to restore it. It survives kill -9 and
power loss (write to a temp file, fsync, rename over, fsync the directory). Losing it is safe:
the folder is read again from the start and downstream dedupes by Message-ID.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Protocol

from ingest.imap_checkpoint import MailboxState, StateError, decode_state, encode_state

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
