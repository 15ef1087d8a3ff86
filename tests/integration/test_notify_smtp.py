"""The SMTP pool and the notify stage against a real SMTP server (aiosmtpd on loopback) that
fails on demand: 4xx, 5xx, dropped connection, slow; AUTH over STARTTLS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from notify.compose import OutboundMail
from notify.sentlog import MemoryJournal
from notify.settings import SmtpSettings
from notify.smtp import SmtpPool
from notify.stage import build
from notify.transport import DeliveryError
from tests.support.notify_builders import (
    KEY,
    T0,
    flags_from_headers,
    new_ticket,
    of_topic,
    records,
    settings,
    sla,
)
from tests.support.notify_sink import SmtpSink, self_signed, server_tls

pytestmark = pytest.mark.integration
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "email"


def _mail(i: int = 0) -> OutboundMail:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "support@acme.test", "a@example.com", f"hi {i}"
    msg["Message-ID"] = f"<m{i}@acme.test>"
    msg.set_content("hello")
    return OutboundMail(msg.as_bytes(), "support@acme.test", ("a@example.com",),
                        f"<m{i}@acme.test>")


@pytest.fixture
def sink():  # type: ignore[no-untyped-def]
    with SmtpSink() as s:
        yield s


def _pool(port: int, **kw: object) -> SmtpPool:
    return SmtpPool(SmtpSettings(port=port, **kw))  # type: ignore[arg-type]


async def test_pool_delivers_and_reuses_connections(sink: SmtpSink) -> None:
    pool = _pool(sink.port, pool_size=2, max_messages_per_connection=3)
    try:
        replies = await asyncio.gather(*(pool.send(_mail(i)) for i in range(7)))
    finally:
        await pool.close()
    assert all(r.startswith("2.0.0 Ok") or "queued" in r for r in replies)
    assert sorted(sink.handler.counts()) == sorted(f"<m{i}@acme.test>" for i in range(7))


@pytest.mark.parametrize(
    ("mode", "retriable", "reply"),
    [("tempfail", True, "451 4.3.0 Temporary local problem, try later"),
     ("permfail", False, "550 5.1.1 <nobody@example.com>: Recipient address rejected")],
)
async def test_server_replies_are_classified_and_kept(
    sink: SmtpSink, mode: str, retriable: bool, reply: str
) -> None:
    sink.set_mode(mode)
    pool = _pool(sink.port)
    with pytest.raises(DeliveryError) as err:
        await pool.send(_mail())
    assert err.value.retriable is retriable and err.value.server_reply == reply
    sink.set_mode("ok")  # the pool recovers on the next send
    await pool.send(_mail(1))
    await pool.close()
    assert list(sink.handler.counts()) == ["<m1@acme.test>"]


async def test_dropped_connection_is_retriable(sink: SmtpSink) -> None:
    sink.set_mode("drop")
    pool = _pool(sink.port)
    with pytest.raises(DeliveryError) as err:
        await pool.send(_mail())
    assert err.value.retriable
    await pool.close()


async def test_slow_server_times_out_as_retriable(sink: SmtpSink) -> None:
    sink.set_mode("slow", delay_s=2.0)
    pool = _pool(sink.port, timeout_s=0.3)
    with pytest.raises(DeliveryError) as err:
        await pool.send(_mail())
    assert err.value.retriable
    await pool.close()


async def test_nothing_listening_is_retriable() -> None:
    with SmtpSink() as s:
        port = s.port
    pool = _pool(port, timeout_s=2)
    with pytest.raises(DeliveryError) as err:
        await pool.send(_mail())
    assert err.value.retriable


async def test_starttls_and_auth(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with SmtpSink(auth=("agent", "s3cret"), tls_context=server_tls(cert, key)) as s:
        good = _pool(s.port, security="starttls", cafile=str(cert), username="agent",
                     password="s3cret")
        await good.send(_mail(1))
        await good.close()
        bad = _pool(s.port, security="starttls", cafile=str(cert), username="agent",
                    password="wrong")
        with pytest.raises(DeliveryError) as err:
            await bad.send(_mail(2))
        assert not err.value.retriable and err.value.server_reply.startswith("535")
        untrusted = _pool(s.port, security="starttls", username="agent", password="s3cret")
        with pytest.raises(DeliveryError):
            await untrusted.send(_mail(3))  # self-signed and not trusted: refused
        assert list(s.handler.counts()) == ["<m1@acme.test>"]


async def test_implicit_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with SmtpSink(implicit_tls=server_tls(cert, key)) as s:
        pool = _pool(s.port, security="tls", cafile=str(cert))
        await pool.send(_mail(1))
        await pool.close()
        plain = _pool(s.port, timeout_s=2)
        with pytest.raises(DeliveryError):
            await plain.send(_mail(2))  # a client that does not speak TLS gets nowhere
        assert list(s.handler.counts()) == ["<m1@acme.test>"]


async def test_stage_acks_through_the_real_server(sink: SmtpSink) -> None:
    cfg = settings(smtp=SmtpSettings(port=sink.port))
    journal = MemoryJournal()
    stage = build(cfg, transport=SmtpPool(cfg.smtp), webhooks=None, journal=journal,
                  signing_key=KEY)
    outs = await stage.process(records([*new_ticket("t000001"), sla("t000001", None)]), T0)
    await stage.dispatch.close()
    (got,) = sink.received
    assert of_topic(outs, "ticket.events") == []  # a sent ack's follow-ups are published first
    (event,) = of_topic(journal.published, "ticket.events")
    assert got.message_id == event.payload.message_id
    assert got.mail_from == "support@acme.test" and got.rcpt_tos == ["alice@example.com"]
    assert got.message["Auto-Submitted"] == "auto-replied"
    assert got.message["X-Auto-Response-Suppress"] == "All"
    assert got.message["In-Reply-To"] == "<m1@example.com>"


async def test_corpus_out_of_office_mail_gets_no_ack(sink: SmtpSink) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus not present")
    cfg = settings(smtp=SmtpSettings(port=sink.port))
    journal = MemoryJournal()
    stage = build(cfg, transport=SmtpPool(cfg.smtp), webhooks=None, journal=journal,
                  signing_key=KEY)
    events = []
    for i, name in enumerate(("chatwoot/auto_reply.eml", "chatwoot/bounced_gmail.eml",
                              "sisimai-set-of-emails/maildir/bsd/rfc3834-01.eml")):
        flags = flags_from_headers((CORPUS / name).read_bytes())
        tid = f"t00000{i}"
        events += [*new_ticket(tid, flags=flags, mid=f"<c{i}@x>"), sla(tid, None)]
    events += [*new_ticket("t000009", requester="bob@example.com"), sla("t000009", None)]
    outs = await stage.process(records(events), T0)
    await stage.dispatch.close()
    assert [m.rcpt_tos for m in sink.received] == [["bob@example.com"]]
    results = of_topic([*outs, *journal.published], "notify.results")
    assert sorted(r.outcome for r in results) == ["sent", "suppressed", "suppressed",
                                                  "suppressed"]


def test_cli_send_test_reports_the_server_words() -> None:
    from typer.testing import CliRunner

    from notify.settings import NotifySettings
    from tests.support.notify_builders import cli_app

    with SmtpSink() as sink:
        app = cli_app(NotifySettings(smtp=SmtpSettings(port=sink.port)))
        ok = CliRunner().invoke(app, ["notify", "send-test", "ops@example.com"])
        sink.set_mode("permfail")
        bad = CliRunner().invoke(app, ["notify", "send-test", "ops@example.com"])
    assert ok.exit_code == 0 and "accepted" in ok.output
    assert bad.exit_code == 1 and "550 5.1.1" in bad.output
    assert [r.rcpt_tos for r in sink.received] == [["ops@example.com"]]
