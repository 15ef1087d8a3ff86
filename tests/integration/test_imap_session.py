"""ImapSession against a real Dovecot: IDLE sees mail that arrived just before it started."""

from __future__ import annotations

import threading
import time

import pytest

from ingest.imap.auth import credentials_for
from ingest.imap.session import AuthRejected, ImapSession
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import Dovecot
from tests.support.imap_connector import mailbox_for

pytestmark = pytest.mark.integration
dovecot = dovecot_support.dovecot  # the fixture


def session(dovecot: Dovecot, **kw: object) -> ImapSession:
    m = mailbox_for(dovecot, **kw)  # type: ignore[arg-type]
    s = ImapSession(m, credentials_for(m))
    s.connect()
    return s


def test_mail_arriving_between_search_and_idle_is_not_missed(dovecot: Dovecot) -> None:
    dovecot.append("support", b"Subject: first\r\n\r\n1\r\n")
    s = session(dovecot)
    try:
        s.select("INBOX", readonly=True)
        assert s.search_after(0) == [1]
        dovecot.append("support", b"Subject: second\r\n\r\n2\r\n")  # before IDLE starts
        time.sleep(0.7)  # Dovecot announces it right after "+ idling", in the same packet
        # Without reading imaplib's buffer this waits for Dovecot's "Still here" (2 min).
        assert s.wait_for_mail(threading.Event(), timeout_s=5, check_s=0.5)
        assert s.search_after(1) == [2]
    finally:
        s.close()


def test_idle_reports_new_mail_and_stops_on_request(dovecot: Dovecot) -> None:
    s = session(dovecot)
    try:
        s.select("INBOX", readonly=True)
        stop = threading.Event()
        threading.Timer(0.3, dovecot.append, ("support", b"Subject: x\r\n\r\nx\r\n")).start()
        assert s.wait_for_mail(stop, timeout_s=10, check_s=0.2)
        stop.set()
        assert not s.wait_for_mail(stop, timeout_s=10, check_s=0.2)
        [mail] = s.fetch(s.search_after(0))
        assert mail.raw.startswith(b"Subject: x") and mail.internal_date is not None
        assert mail.internal_date.tzinfo is not None
    finally:
        s.close()


def test_wrong_password_is_auth_rejected_in_dovecots_words(dovecot: Dovecot) -> None:
    with pytest.raises(AuthRejected, match="AUTHENTICATIONFAILED"):
        session(dovecot, password="wrong")


def test_fetch_reads_the_exact_bytes_dates_and_sizes(dovecot: Dovecot) -> None:
    """Through the fast FETCH reader: every byte as appended (CRLF mail, a literal that looks
    like protocol, 8-bit), the INTERNALDATE as imapclient reads it, sizes from the index."""
    mails = [b"Subject: a\r\n\r\n* 1 FETCH (UID 9 BODY[] {3}\r\n)\r\n",
             b"Subject: b\r\nContent-Type: text/plain; charset=latin-1\r\n\r\n\xe9t\xe9\r\n",
             b"Subject: c\r\n\r\n" + b"x" * 70_000 + b"\r\n"]
    dovecot.append_many("support", mails)
    s = session(dovecot)
    try:
        s.select("INBOX", readonly=True)
        uids = s.search_after(0)
        got = s.fetch(uids)
        assert [m.raw for m in got] == mails
        with dovecot.client("support") as client:
            client.normalise_times = False
            client.select_folder("INBOX", readonly=True)
            dates = client.fetch(uids, ["INTERNALDATE"])
        assert [m.internal_date for m in got] == [dates[u][b"INTERNALDATE"] for u in uids]
        assert s.fetch_sizes(uids) == {u: len(raw) for u, raw in zip(uids, mails, strict=True)}
        assert s.fetch(uids[1:2]) == got[1:2] and s.fetch([]) == [] and s.fetch_sizes([]) == {}
    finally:
        s.close()
