"""The IMAP connector's progress logic, pure: which UIDs to fetch, when a resync is due, how far
the checkpoint may advance, how long to back off. No sockets, no clock, no files.

A folder's progress is ``(UIDVALIDITY, last UID)``. IMAP promises that, while UIDVALIDITY is
unchanged, UIDs only grow, so "everything above last UID" is exactly the mail not yet ingested.
When UIDVALIDITY changes (mailbox recreated, server migrated) the old UIDs mean nothing and the
folder is read again from the start; that republishes mail, which is safe because downstream
identifies a message by its Message-ID, not by its UID.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

from schemas.errors import HelplineError

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class FolderCheckpoint:
    """Every message with a UID up to ``last_uid`` under ``uidvalidity`` is on Kafka."""

    uidvalidity: int
    last_uid: int
    # Set while a resync after a UIDVALIDITY change is under way: UIDs below it existed when
    # the resync began and are skipped if their Message-ID was already published (kept across
    # a crash, so a resync interrupted by kill -9 still does not republish needlessly).
    resync_below: int | None = None

    def resyncing(self, uid: int) -> bool:
        return self.resync_below is not None and uid < self.resync_below


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What to do after selecting a folder: fetch UIDs above ``after_uid``.

    ``resync`` is set when the server's UIDVALIDITY no longer matches the checkpoint;
    ``checkpoint`` is the starting checkpoint under the server's current UIDVALIDITY (written
    at once when it differs from the stored one, so a resync is not restarted by a crash).
    """

    after_uid: int
    checkpoint: FolderCheckpoint
    resync: bool = False


def plan_sync(
    stored: FolderCheckpoint | None,
    uidvalidity: int,
    uidnext: int | None,
    initial_sync: Literal["all", "new"],
) -> SyncPlan:
    if stored is not None and stored.uidvalidity == uidvalidity:
        return SyncPlan(after_uid=stored.last_uid, checkpoint=stored)
    if stored is None and initial_sync == "new" and uidnext is not None:
        start = max(uidnext - 1, 0)
        return SyncPlan(after_uid=start, checkpoint=FolderCheckpoint(uidvalidity, start))
    if stored is None:
        return SyncPlan(after_uid=0, checkpoint=FolderCheckpoint(uidvalidity, 0))
    return SyncPlan(after_uid=0, checkpoint=FolderCheckpoint(uidvalidity, 0, uidnext), resync=True)


def uids_after(found: Iterable[int], after_uid: int) -> list[int]:
    """The UIDs still to ingest, ascending.

    ``UID SEARCH UID n:*`` always matches the folder's highest UID, even when it is below n
    (RFC 3501 6.4.8: ``*`` is the largest UID in use), so the result is filtered here.
    """
    return sorted({uid for uid in found if uid > after_uid})


def batches(uids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        yield list(uids[start : start + size])


def batches_by_size(
    uids: Sequence[int], sizes: Mapping[int, int], max_count: int, max_bytes: int
) -> Iterator[list[int]]:
    """Consecutive batches of at most ``max_count`` UIDs and ``max_bytes`` of mail (by the
    server's RFC822.SIZE; unknown counts 0); a mail larger than ``max_bytes`` goes alone."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= max_count or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def replay_bound_batches(checkpoint_every_batches: int, max_batches_in_flight: int) -> int:
    """How many FETCH batches a kill -9 can make the connector publish again, at most.

    Published but not covered by a durable checkpoint at the moment of the kill: the batches
    in flight (up to ``max_batches_in_flight``, plus the one just handed to the producer), the
    batches of the save being written, and those settled since it started (each at most
    ``checkpoint_every_batches``: the next save waits for the running one). Downstream
    dedupes the repeats by Message-ID; this is their cost, not a loss.
    """
    return 2 * checkpoint_every_batches + max_batches_in_flight + 1


def advance(
    checkpoint: FolderCheckpoint, batch: Sequence[int], acked: Collection[int]
) -> FolderCheckpoint:
    """Move the checkpoint over the longest acknowledged prefix of an ascending batch.

    A UID that is missing from ``acked`` (its record was not acknowledged) stops the advance
    there, even if later ones were acknowledged: those are fetched and published again.
    """
    last = checkpoint.last_uid
    for uid in batch:
        if uid not in acked:
            break
        last = max(last, uid)
    if last == checkpoint.last_uid:
        return checkpoint
    below = checkpoint.resync_below
    return FolderCheckpoint(
        checkpoint.uidvalidity, last, below if below is not None and last + 1 < below else None
    )


def message_id_key(header: bytes) -> bytes | None:
    """A short fingerprint of a message's Message-ID, from its header block (or the whole
    message); None when there is none. The same key downstream dedupes by."""
    end = header.find(b"\r\n\r\n")
    if end < 0:
        end = header.find(b"\n\n")
    found = _first_message_id(header if end < 0 else header[:end])
    if not found:
        return None
    value = b"".join(found.group(1).split())  # unfold, drop whitespace
    return hashlib.blake2b(value, digest_size=SEEN_KEY_BYTES).digest() if value else None


SEEN_KEY_BYTES = 8
_MESSAGE_ID = re.compile(rb"(?im)^message-id[ \t]*:(.*(?:\r?\n[ \t].*)*)")


def _first_message_id(header: bytes) -> re.Match[bytes] | None:
    """``_MESSAGE_ID.search(header)``, faster: a case-insensitive regex search tries every
    position of a long header; here ``bytes.find`` on the lower-cased header
    jumps to the candidates and the regex only confirms one."""
    lower = header.lower()
    at = lower.find(b"message-id")
    while at >= 0:
        if at == 0 or lower[at - 1] == 0x0A:  # "^" in MULTILINE: at a line start
            found = _MESSAGE_ID.match(header, at)
            if found:
                return found
        at = lower.find(b"message-id", at + 1)
    return None


def backoff_delay(attempt: int, initial_s: float, max_s: float, jitter: float) -> float:
    """Exponential backoff for reconnects: ``initial * 2**attempt`` capped at ``max``.

    ``jitter`` in [0, 1) is supplied by the caller (random in production, fixed in tests) and
    spreads the delay over its upper quarter, so many mailboxes do not reconnect in lockstep.
    """
    base = min(max_s, initial_s * float(2 ** min(max(attempt, 0), 32)))
    return base * (0.75 + 0.25 * min(max(jitter, 0.0), 1.0))


# ---------------------------------------------------------------------------------------------
# the checkpoint state of one mailbox, as bytes (the store writes them atomically)


@dataclass(frozen=True, slots=True)
class MailboxState:
    """All folder checkpoints of one mailbox."""

    mailbox: str
    folders: Mapping[str, FolderCheckpoint]

    def get(self, folder: str) -> FolderCheckpoint | None:
        return self.folders.get(folder)

    def with_folder(self, folder: str, checkpoint: FolderCheckpoint) -> MailboxState:
        return MailboxState(self.mailbox, {**self.folders, folder: checkpoint})


class StateError(HelplineError, ValueError):
    """A checkpoint file that cannot be read (corrupt, or written by a newer version)."""


def encode_state(state: MailboxState) -> bytes:
    return orjson.dumps(
        {
            "version": STATE_VERSION,
            "mailbox": state.mailbox,
            "folders": {
                name: {"uidvalidity": cp.uidvalidity, "last_uid": cp.last_uid}
                | ({"resync_below": cp.resync_below} if cp.resync_below is not None else {})
                for name, cp in sorted(state.folders.items())
            },
        },
        option=orjson.OPT_INDENT_2,
    )


def decode_state(data: bytes, mailbox: str) -> MailboxState:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
        raise StateError(f"unsupported checkpoint version {doc.get('version')!r}"
                         if isinstance(doc, dict) else "not an object")
    if doc.get("mailbox") != mailbox:
        raise StateError(f"checkpoint belongs to mailbox {doc.get('mailbox')!r}, not {mailbox!r}")
    folders: dict[str, FolderCheckpoint] = {}
    raw_folders = doc.get("folders")
    if not isinstance(raw_folders, dict):
        raise StateError("folders: not an object")
    for name, cp in raw_folders.items():
        if not (
            isinstance(cp, dict)
            and type(cp.get("uidvalidity")) is int
            and type(cp.get("last_uid")) is int
        ):
            raise StateError(f"folders.{name}: expected uidvalidity and last_uid integers")
        below = cp.get("resync_below")
        if below is not None and type(below) is not int:
            raise StateError(f"folders.{name}.resync_below: expected an integer")
        folders[name] = FolderCheckpoint(cp["uidvalidity"], cp["last_uid"], below)
    return MailboxState(mailbox, folders)
