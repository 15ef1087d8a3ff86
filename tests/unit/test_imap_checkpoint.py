"""The IMAP connector's pure progress logic: plans, UID filtering, checkpoint advance, backoff."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ingest.imap.checkpoint import (
    FolderCheckpoint,
    MailboxState,
    StateError,
    advance,
    backoff_delay,
    batches,
    batches_by_size,
    decode_state,
    encode_state,
    message_id_key,
    plan_sync,
    uids_after,
)


@pytest.mark.parametrize(
    ("stored", "uidvalidity", "uidnext", "initial", "after", "resync"),
    [
        (None, 7, 50, "all", 0, False),  # first connect: read the whole folder
        (None, 7, 50, "new", 49, False),  # first connect, only new mail
        (FolderCheckpoint(7, 30), 7, 50, "all", 30, False),  # carry on
        (FolderCheckpoint(7, 30), 7, 50, "new", 30, False),  # a checkpoint wins over "new"
        (FolderCheckpoint(7, 30), 8, 5, "all", 0, True),  # UIDVALIDITY changed: from the start
        (FolderCheckpoint(7, 30), 8, 5, "new", 0, True),  # ...even with "new": never lose mail
    ],
)
def test_plan_sync(stored, uidvalidity, uidnext, initial, after, resync) -> None:
    plan = plan_sync(stored, uidvalidity, uidnext, initial)
    assert plan.after_uid == after
    assert plan.resync is resync
    assert plan.checkpoint == FolderCheckpoint(uidvalidity, after, uidnext if resync else None)


def test_uid_search_star_quirk_is_filtered() -> None:
    # "UID SEARCH UID 31:*" on a folder whose highest UID is 30 answers 30
    assert uids_after([30], 30) == []
    assert uids_after([33, 31, 30, 31], 30) == [31, 33]


def test_batches_keep_order_and_size() -> None:
    assert list(batches([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(batches([], 3)) == []


def test_advance_stops_at_first_unacknowledged() -> None:
    cp = FolderCheckpoint(7, 10)
    assert advance(cp, [11, 12, 13], {11, 13}) == FolderCheckpoint(7, 11)
    assert advance(cp, [11, 12, 13], {11, 12, 13}) == FolderCheckpoint(7, 13)
    assert advance(cp, [11, 12, 13], {12, 13}) is cp
    assert advance(cp, [], set()) is cp


@given(
    start=st.integers(0, 1000),
    batch=st.lists(st.integers(1, 2000), unique=True).map(sorted),
    acked_mask=st.lists(st.booleans(), min_size=2000, max_size=2000),
)
def test_advance_never_skips_an_unacknowledged_uid(start, batch, acked_mask) -> None:
    batch = [u for u in batch if u > start]
    acked = {u for u in batch if acked_mask[u - 1]}
    new = advance(FolderCheckpoint(1, start), batch, acked)
    assert new.last_uid >= start
    assert all(u in acked for u in batch if u <= new.last_uid)


@given(attempt=st.integers(-3, 10_000), jitter=st.floats(-1, 2))
def test_backoff_is_bounded(attempt, jitter) -> None:
    delay = backoff_delay(attempt, 1.0, 300.0, jitter)
    assert 0.75 <= delay <= 300.0


def test_backoff_grows_then_caps() -> None:
    delays = [backoff_delay(a, 1.0, 60.0, 1.0) for a in range(10)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert delays[-1] == 60.0


@given(st.dictionaries(st.text(min_size=1, max_size=30),
                       st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
                       max_size=5))
def test_state_roundtrip(folders) -> None:
    state = MailboxState("support", {k: FolderCheckpoint(*v) for k, v in folders.items()})
    assert decode_state(encode_state(state), "support") == state


@pytest.mark.parametrize("data", [
    b"", b"{", b"[]", b'{"version": 99}', b'{"version": 1, "mailbox": "other", "folders": {}}',
    b'{"version": 1, "mailbox": "support", "folders": {"INBOX": {"uidvalidity": "x"}}}',
])
def test_bad_state_is_a_state_error(data) -> None:
    with pytest.raises(StateError):
        decode_state(data, "support")


def test_resync_mark_is_kept_until_the_resync_reaches_it() -> None:
    cp = FolderCheckpoint(8, 0, resync_below=5)
    assert cp.resyncing(4) and not cp.resyncing(5)
    mid = advance(cp, [1, 2, 3], {1, 2, 3})
    assert mid == FolderCheckpoint(8, 3, 5)
    assert advance(mid, [4, 6], {4, 6}) == FolderCheckpoint(8, 6)
    state = MailboxState("support", {"INBOX": mid})
    assert decode_state(encode_state(state), "support") == state


@pytest.mark.parametrize(("header", "same_as"), [
    (b"Message-ID: <a@x>\r\nSubject: s\r\n\r\nbody", b"message-id:<a@x>\n\n"),
    (b"Subject: s\r\nMessage-Id:\r\n <a@x>\r\n\r\n", b"MESSAGE-ID: <a@x>\r\n"),
])
def test_message_id_key_ignores_case_of_the_name_and_folding(header, same_as) -> None:
    assert message_id_key(header) == message_id_key(same_as) is not None
    assert message_id_key(header) != message_id_key(b"Message-ID: <A@x>\r\n")


def test_message_id_key_only_reads_the_header() -> None:
    assert message_id_key(b"Subject: s\r\n\r\nMessage-ID: <in-body@x>\r\n") is None
    assert message_id_key(b"Message-ID:   \r\n\r\n") is None
    assert message_id_key(b"") is None


@given(st.binary(max_size=300))
def test_message_id_key_never_raises(data) -> None:
    key = message_id_key(data)
    assert key is None or len(key) == 8


_header_pieces = st.sampled_from([
    b"Message-ID: <a@x>", b"message-id:<b@x>", b"MESSAGE-ID :<c@x>", b"Message-IDx: <d@x>",
    b"X-Message-ID: <e@x>", b" Message-ID: <f@x>", b"Subject: message-id: <g@x>", b"\tfolded",
    b"\r\n", b"\n", b"\r", b" ", b"Message-Id:", b"<h@x>"])


@example(b"X-Message-ID: <e@x>\r\nMessage-ID: <a@x>\r\n")
@example(b"Message-IDx: <d@x>\nmessage-id: <a@x>")
@example(b"Subject: message-id: <g@x>\r\n Message-ID: <f@x>\r\nMESSAGE-ID:<c@x>")
@given(st.lists(_header_pieces, max_size=12).map(b"".join))
def test_first_message_id_is_the_regex_search(header: bytes) -> None:
    from ingest.imap.checkpoint import _MESSAGE_ID, _first_message_id

    fast, slow = _first_message_id(header), _MESSAGE_ID.search(header)
    assert (fast and (fast.start(), fast.group(1))) == (slow and (slow.start(), slow.group(1)))


@pytest.mark.parametrize(
    ("sizes", "max_count", "max_bytes", "expected"),
    [
        ([10, 10, 10], 2, 100, [[1, 2], [3]]),  # count bound
        ([60, 30, 20, 90], 10, 100, [[1, 2], [3], [4]]),  # byte bound
        ([500, 10, 10], 10, 100, [[1], [2, 3]]),  # too large for any batch: alone
        ([10, 500, 10], 10, 100, [[1], [2], [3]]),
        ([], 10, 100, []),
    ],
)
def test_batches_by_size(sizes: list[int], max_count: int, max_bytes: int,
                         expected: list[list[int]]) -> None:
    uids = list(range(1, len(sizes) + 1))
    by_uid = dict(zip(uids, sizes, strict=True))
    assert list(batches_by_size(uids, by_uid, max_count, max_bytes)) == expected


@given(st.lists(st.integers(0, 300), max_size=40), st.integers(1, 8), st.integers(1, 400))
def test_batches_by_size_keep_every_uid_in_order_within_bounds(
    sizes: list[int], max_count: int, max_bytes: int
) -> None:
    uids = [u * 3 for u in range(1, len(sizes) + 1)]
    by_uid = dict(zip(uids, sizes, strict=True))
    out = list(batches_by_size(uids, by_uid, max_count, max_bytes))
    assert [u for b in out for u in b] == uids
    for b in out:
        assert 1 <= len(b) <= max_count
        assert len(b) == 1 or sum(by_uid[u] for u in b) <= max_bytes
