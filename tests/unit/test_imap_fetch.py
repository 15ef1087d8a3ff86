"""Reading FETCH answers: the fast reader agrees with imapclient's general parser on every
answer it accepts, hands every other shape to it, and reads INTERNALDATE as imapclient does.

Answers are written as imaplib hands them over: ``(line up to the literal, literal)`` pairs,
the rest of the line after the literal, and untagged lines without a literal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imapclient.datetime_util import datetime_to_INTERNALDATE, parse_to_datetime

from ingest.imap.fetch import (
    FetchedMail,
    _read_any_shape,
    _read_common_shape,
    internal_date,
    read_fetched,
    read_sizes,
    uid_set,
)

DATE = b"25-Nov-2026 21:18:45 +0100"
WHEN = datetime(2026, 11, 25, 21, 18, 45, tzinfo=timezone(timedelta(hours=1)))


def answer(seq: int, uid: int, body: bytes, date: bytes | None = DATE, after: bytes = b"",
           before: bytes = b"") -> list[object]:
    items = before + b"UID %d " % uid + (b'INTERNALDATE "%s" ' % date if date else b"")
    return [(b"%d (%sBODY[] {%d}" % (seq, items, len(body)), body), after + b")"]


def test_the_common_answer() -> None:
    data = answer(1, 10, b"Subject: a\r\n\r\nx") + answer(2, 11, b"Subject: b\r\n\r\ny")
    assert read_fetched(data, [10, 11]) == [FetchedMail(10, b"Subject: a\r\n\r\nx", WHEN),
                                           FetchedMail(11, b"Subject: b\r\n\r\ny", WHEN)]
    assert _read_common_shape(data, {10, 11}) is not None  # no detour through imapclient


@pytest.mark.parametrize(
    ("data", "fast"),
    [
        # items after the body, on the rest of the line
        (answer(1, 10, b"x", date=None, after=b' INTERNALDATE "%s"' % DATE), True),
        # a FLAGS update for another message in between, and flags beside the body
        ([b"7 (FLAGS (\\Seen))", *answer(1, 10, b"x", before=b"FLAGS (\\Seen \\Answered) ")],
         True),
        # body as a quoted string, or NIL (expunged while fetching): imapclient's parser
        ([b'1 (UID 10 INTERNALDATE "%s" BODY[] "x")' % DATE], False),
        ([b"1 (UID 10 BODY[] NIL)", *answer(2, 11, b"y")], False),
        # an item the fast reader does not know
        (answer(1, 10, b"x", before=b"X-GM-MSGID 123 "), False),
        # the same message in two answers: imapclient merges them
        ([*answer(1, 10, b"x", date=None), b'1 (UID 10 INTERNALDATE "%s")' % DATE], False),
        (answer(1, 10, b"x", date=None) + answer(1, 10, b"x"), False),
    ],
)
def test_other_shapes_read_as_imapclient_reads_them(data: list[object], fast: bool) -> None:
    expected = _read_any_shape(data, {10, 11})
    assert read_fetched(data, [10, 11]) == expected
    assert (_read_common_shape(data, {10, 11}) is not None) is fast


def test_an_answer_without_a_body_is_no_mail() -> None:
    assert read_fetched([b"1 (UID 10 BODY[] NIL)"], [10]) == []
    assert read_fetched([b'1 (UID 10 INTERNALDATE "%s")' % DATE], [10]) == []


def test_mail_not_asked_for_is_left_out() -> None:
    data = answer(1, 10, b"x") + answer(2, 99, b"unsolicited")
    assert [m.uid for m in read_fetched(data, [10])] == [10]


def test_answers_come_back_in_uid_order() -> None:
    data = answer(2, 11, b"y") + answer(1, 10, b"x")
    assert [m.uid for m in read_fetched(data, [10, 11])] == [10, 11]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DATE, WHEN),
        (b" 5-Nov-2026 07:00:00 -0330",
         datetime(2026, 11, 5, 7, tzinfo=timezone(-timedelta(hours=3, minutes=30)))),
        (b"31-Feb-2026 07:00:00 +0000", None),  # no such day
        (b"25-Nov-2026 25:00:00 +0000", None),
        (b"yesterday", None),
        (b"", None),
    ],
)
def test_internal_date(value: bytes, expected: datetime | None) -> None:
    assert internal_date(value) == expected


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
       st.integers(-14 * 60, 14 * 60))
def test_internal_date_reads_what_imapclient_reads(when: datetime, offset_minutes: int) -> None:
    value = datetime_to_INTERNALDATE(
        when.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    ).encode()
    assert internal_date(value) == parse_to_datetime(value, normalise=False)


@given(st.binary(max_size=40))
def test_internal_date_never_raises(value: bytes) -> None:
    result = internal_date(value)
    assert result is None or result.tzinfo is not None


_bodies = st.binary(max_size=60)
_dates = st.sampled_from([None, DATE, b"bad", b" 1-Jan-2000 00:00:00 +0000"])


@st.composite
def answers(draw: st.DrawFn) -> tuple[list[object], set[int]]:
    uids = draw(st.lists(st.integers(1, 50), min_size=0, max_size=6))
    data: list[object] = []
    for seq, uid in enumerate(uids, start=1):
        if draw(st.booleans()):
            data.append(b"%d (FLAGS (\\Seen))" % draw(st.integers(1, 50)))
        if draw(st.integers(0, 9)) == 0:
            data.append(b'%d (UID %d INTERNALDATE "%s")' % (seq, uid, DATE))
        shape = draw(st.sampled_from(["common", "after", "nil", "flags"]))
        if shape == "nil":
            data.append(b"%d (UID %d BODY[] NIL)" % (seq, uid))
        elif shape == "after":
            date = draw(_dates)
            data += answer(seq, uid, draw(_bodies), date=None,
                           after=b' INTERNALDATE "%s"' % date if date else b"")
        else:
            data += answer(seq, uid, draw(_bodies), date=draw(_dates),
                           before=b"FLAGS () " if shape == "flags" else b"")
    wanted = set(draw(st.lists(st.integers(1, 50), max_size=8))) | set(uids[:3])
    return data, wanted


@given(answers())
def test_fast_reader_agrees_with_imapclient(case: tuple[list[object], set[int]]) -> None:
    data, wanted = case
    assert read_fetched(data, wanted) == _read_any_shape(data, wanted)


@pytest.mark.parametrize(
    ("uids", "expected"),
    [([], ""), ([5], "5"), ([1, 2, 3, 7, 9, 10], "1:3,7,9:10"), ([3, 1, 2, 2], "1:3")],
)
def test_uid_set(uids: list[int], expected: str) -> None:
    assert uid_set(uids) == expected


@given(st.sets(st.integers(1, 10_000), max_size=50))
def test_uid_set_names_exactly_the_uids(uids: set[int]) -> None:
    named: set[int] = set()
    for part in filter(None, uid_set(uids).split(",")):
        first, _, last = part.partition(":")
        named.update(range(int(first), int(last or first) + 1))
    assert named == uids


def test_fetched_mail_dates_are_aware() -> None:
    mails = read_fetched(answer(1, 10, b"x", date=b"01-Jan-2026 00:00:00 +0000"), [10])
    assert mails[0].internal_date == datetime(2026, 1, 1, tzinfo=UTC)


def test_read_sizes() -> None:
    data = [b"1 (UID 10 RFC822.SIZE 2156)", b"2 (RFC822.SIZE 7 UID 11)", b"3 (FLAGS (\\Seen))",
            b"4 (UID 99 RFC822.SIZE 5)", (b"5 (UID 12 BODY[] {1}", b"x"), b")"]
    assert read_sizes(data, [10, 11, 12]) == {10: 2156, 11: 7}


@given(st.lists(st.one_of(st.binary(max_size=40), st.tuples(st.binary(max_size=9),
                                                             st.binary(max_size=9)))))
def test_read_sizes_never_raises(data: list[object]) -> None:
    assert isinstance(read_sizes(data, range(100)), dict)
