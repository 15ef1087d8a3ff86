"""The checkpoint file: round trip, atomic replacement, a corrupt file means a safe resync."""

from __future__ import annotations

from pathlib import Path

from ingest.imap.checkpoint import FolderCheckpoint, MailboxState
from ingest.imap.store import FileCheckpointStore, FileMessageIdLog, state_file_name


def test_missing_file_is_empty_state(tmp_path: Path) -> None:
    assert FileCheckpointStore(tmp_path / "cp").load("support") == MailboxState("support", {})


def test_save_then_load(tmp_path: Path) -> None:
    store = FileCheckpointStore(tmp_path / "cp")
    state = MailboxState("support", {"INBOX": FolderCheckpoint(5, 42)})
    store.save(state)
    store.save(state.with_folder("Archive", FolderCheckpoint(9, 1)))
    loaded = store.load("support")
    assert loaded.get("INBOX") == FolderCheckpoint(5, 42)
    assert loaded.get("Archive") == FolderCheckpoint(9, 1)
    assert sorted(p.name for p in (tmp_path / "cp").iterdir()) == [state_file_name("support")]


def test_corrupt_file_is_kept_aside_and_means_resync(tmp_path: Path) -> None:
    store = FileCheckpointStore(tmp_path)
    store.path("support").write_bytes(b"\x00garbage")
    assert store.load("support") == MailboxState("support", {})
    assert store.path("support").with_suffix(".corrupt").read_bytes() == b"\x00garbage"


def test_file_names_are_safe_and_distinct() -> None:
    a, b = state_file_name("support/../x"), state_file_name("support_.._x")
    assert "/" not in a and a != b


def test_message_id_log_survives_a_torn_write_and_stays_bounded(tmp_path: Path) -> None:
    log = FileMessageIdLog(tmp_path, max_entries=4)
    log.append("support", "INBOX", [b"aaaaaaaa", b"bbbbbbbb"])
    with log.path("support", "INBOX").open("ab") as f:
        f.write(b"ccc")  # kill -9 in the middle of an append
    assert log.load("support", "INBOX") == {b"aaaaaaaa", b"bbbbbbbb"}
    log.append("support", "INBOX", [b"dddddddd"])
    assert log.load("support", "INBOX") == {b"aaaaaaaa", b"bbbbbbbb", b"dddddddd"}
    log.append("support", "INBOX", [bytes([i]) * 8 for i in range(10)])
    assert len(log.load("support", "INBOX")) == 4  # compacted to the newest entries
    assert bytes([9]) * 8 in log.load("support", "INBOX")
    assert log.load("support", "Archive") == set()
