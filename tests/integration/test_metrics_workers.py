"""What an SRE scrapes: the real ``/metrics`` of real workers and services on the real broker,
and the counters each one owes, moving for the reason they exist.

* the SMTP receiver (``helpline worker smtp``): accepted mail, refused recipients, publish time;
* the chat service (``helpline worker chat``): requests by route and status class, replies
  pushed to an open stream, replies sent by email once the visitor left;
* the IMAP connector (``helpline worker imap``): a folder whose server is unreachable;
* the tickets stage (``helpline worker tickets``): new, threaded and duplicate mail;
* the route stage (``helpline worker route``): SLA breaches and ticket events derived from
  what the stage produced, consumer lag back to zero;
* the notify stage (in-process runner, real SMTP sink, real webhook receiver, /metrics served
  over HTTP): sent, suppressed by reason, failed, retried, deliveries, SMTP send time.
"""

from __future__ import annotations

import asyncio
import json
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from notify.settings import NotifySettings, SmtpSettings, WebhookTarget
from notify.stage import build_stage
from runtime.http import health_app, serve
from runtime.kafka import free_port
from runtime.metrics import StageMetrics
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.notification import ChatReply
from schemas.stage import KafkaConnection, StageContext
from schemas.topics import CHAT_OUTBOUND, MESSAGES, NOTIFY_OUTBOX, RAW_EMAIL, TICKET_EVENTS
from tests.support.kafka import produce, read_topic
from tests.support.notify_builders import KEY, alert, settings
from tests.support.notify_sink import SmtpSink
from tests.support.notify_webhook import WebhookReceiver
from tests.support.route_builders import created
from tests.support.tickets_builders import email, mid

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
WAIT_S = 60


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_for(port: int, ok: Callable[[Samples], bool], what: str,
             alive: Callable[[], None] = lambda: None) -> Samples:
    deadline = time.monotonic() + WAIT_S
    samples: Samples = {}
    while time.monotonic() < deadline:
        alive()
        try:
            samples = scrape(port)
        except httpx.TransportError:
            samples = {}
        if samples and ok(samples):
            return samples
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen on /metrics; last scrape: "
                         f"{sorted(k for k in samples if k[0].startswith('helpline'))}")


@contextmanager
def worker(name: str, conn: KafkaConnection, tmp: Path, config: Path | None = None,
           **env: str) -> Iterator[int]:
    """``helpline worker <name>`` as its own process, with /metrics on a free port."""
    port = free_port()
    options = ["--config", str(config)] if config else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", *options, "worker", name, "--instance-id", "m1"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp),
             "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": conn.bootstrap_servers,
             "HELPLINE_KAFKA__TOPIC_PREFIX": conn.topic_prefix,
             "HELPLINE_OBSERVABILITY__HTTP_PORT": str(port),
             "HELPLINE_OBSERVABILITY__LOG_LEVEL": "WARNING", **env},
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- SMTP/LMTP receiver --------------------------------------------------------------------


def test_smtp_receiver_counts_accepted_mail_and_refused_recipients(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    smtp_port = free_port()
    with worker("smtp", kafka_conn, tmp_path,
                HELPLINE_EMAIL__RECEIVER__PORT=str(smtp_port),
                HELPLINE_EMAIL__RECEIVER__ACCEPTED_DOMAINS='["example.com"]') as port:
        wait_listening(smtp_port)
        mail = b"From: ada@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as c:
            c.sendmail("ada@example.org", ["support@example.com"], mail)
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                c.sendmail("ada@example.org", ["someone@elsewhere.test"], mail)
        assert len(asyncio.run(read_topic(kafka_conn, RAW_EMAIL, expect=1))) == 1
        s = wait_for(port, lambda s: value(s, "helpline_smtp_receiver_messages_total",
                                           protocol="smtp", outcome="accepted") == 1,
                     "an accepted message")
        assert value(s, "helpline_smtp_receiver_recipients_rejected_total", protocol="smtp") == 1
        assert value(s, "helpline_smtp_receiver_publish_seconds_count", protocol="smtp") == 1
        assert value(s, "helpline_smtp_receiver_messages_total", protocol="smtp",
                     outcome="tempfail") == 0
        assert value(s, "helpline_stage_ready", stage="smtp") == 1
        assert not any("example" in v for _, labels in s for _, v in labels)


# -- chat ----------------------------------------------------------------------------------


def test_chat_service_counts_requests_by_route_and_status(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    chat_port = free_port()
    site = {"id": "acme", "allowed_origins": ["https://shop.example"], "secret": "s3cret",
            "availability": "online"}
    with worker("chat", kafka_conn, tmp_path, HELPLINE_CHAT__PORT=str(chat_port),
                HELPLINE_CHAT__SITES=json.dumps([site]), HELPLINE_CHAT__LEFT_AFTER_S="0.5",
                HELPLINE_CHAT__FALLBACK_CHECK_INTERVAL_S="0.2") as port:
        wait_for(port, lambda s: value(s, "helpline_stage_ready", stage="chat") == 1, "ready")
        h = {"Origin": "https://shop.example"}
        with httpx.Client(base_url=f"http://127.0.0.1:{chat_port}", timeout=10) as c:
            deadline = time.monotonic() + WAIT_S
            while True:
                try:
                    r = c.post("/v1/sites/acme/conversations", json={}, headers=h)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert r.status_code == 201, r.text
            conv = r.json()
            cid = conv["conversation_id"]
            posted = c.post(f"/v1/sites/acme/conversations/{cid}/messages",
                            json={"message_id": "m1", "text": "my parcel never arrived",
                                  "email": "bob@example.com"},
                            headers={**h, "Authorization": f"Bearer {conv['visitor_token']}"})
            assert posted.status_code == 202, posted.text
            refused = c.post(f"/v1/sites/acme/conversations/{cid}/messages",
                             json={"message_id": "m2", "text": "no token"}, headers=h)
            assert refused.status_code in (401, 403)
            events = f"/v1/sites/acme/conversations/{cid}/events?token={conv['visitor_token']}"
            with c.stream("GET", events, headers=h) as stream:  # the visitor is there ...
                lines = stream.iter_lines()
                assert next(lines).startswith("retry:")
                asyncio.run(produce(kafka_conn, CHAT_OUTBOUND, [(b"k", _reply(cid, 1))]))
                assert any(line.startswith("data: ") for line in lines)
            # ... then leaves: the next reply goes out by email
            asyncio.run(produce(kafka_conn, CHAT_OUTBOUND, [(b"k", _reply(cid, 2))]))
        s = wait_for(port, lambda s: value(s, "helpline_chat_email_fallbacks_total") == 1,
                     "an email fallback")
        assert value(s, "helpline_chat_replies_pushed_total") == 1
        assert value(s, "helpline_chat_requests_total", route="messages", method="POST",
                     status="4xx") == 1
        assert value(s, "helpline_chat_requests_total", route="events", method="GET",
                     status="2xx") == 1
        assert value(s, "helpline_chat_requests_total", route="conversations", method="POST",
                     status="2xx") == 1
        assert value(s, "helpline_chat_requests_total", route="messages", method="POST",
                     status="2xx") == 1
        assert value(s, "helpline_chat_request_seconds_count", route="messages") == 2
        assert not any(cid in v or "@" in v for _, labels in s for _, v in labels)


def _reply(conversation: str, n: int) -> ChatReply:
    return ChatReply(notification_id=f"ack-{conversation}-{n}", site_id="acme",
                     conversation_id=conversation, ticket_id="T-1", ticket_number="1001",
                     kind="auto-ack", text=f"We got it ({n})", at=datetime.now(UTC))


# -- IMAP ----------------------------------------------------------------------------------


def test_imap_folder_that_cannot_connect_is_a_gauge(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens there
    mailbox = {"name": "support", "host": "127.0.0.1", "port": closed, "security": "none",
               "user": "support@example.com", "password": "x", "folders": ["INBOX"],
               "reconnect_backoff_initial_s": 0.2, "connect_timeout_s": 2}
    with worker("imap", kafka_conn, tmp_path,
                HELPLINE_EMAIL__MAILBOXES=json.dumps([mailbox])) as port:
        s = wait_for(port, lambda s: value(s, "helpline_imap_failures_total",
                                           mailbox="support", folder="INBOX") >= 1,
                     "a failing folder")
        states = {dict(labels)["state"]: v for (name, labels), v in s.items()
                  if name == "helpline_imap_folder_state"}
        assert sum(states.values()) == 1 and states["idle"] == 0
        assert value(s, "helpline_imap_ingested_total", mailbox="support", folder="INBOX") == 0
        assert not any("support@example.com" in v for _, labels in s for _, v in labels)


# -- tickets: where inbound mail went ------------------------------------------------------


def test_tickets_worker_counts_new_threaded_and_duplicate_mail(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    first = email("first")
    reply = email("reply", subject="Re: Printer on fire", in_reply_to=[mid("first")],
                  references=[mid("first")], minutes=5)
    asyncio.run(produce(kafka_conn, MESSAGES,
                        [(b"support", m) for m in (first, reply, first)]))
    with worker("tickets", kafka_conn, tmp_path,
                HELPLINE_RUNNER__BATCH_TIMEOUT_MS="20") as port:
        # intake is counted as the stage decides, events once the broker acknowledged them
        s = wait_for(port, lambda s: value(s, "helpline_tickets_intake_total",
                                           decision="duplicate", via="none") == 1
                     and value(s, "helpline_ticket_events_total", stage="tickets",
                               kind="message-added") == 2, "the duplicate and the events")
        assert value(s, "helpline_tickets_intake_total", decision="new", via="none") == 1
        assert value(s, "helpline_tickets_intake_total", decision="threaded",
                     via="references") == 1
        assert value(s, "helpline_tickets_created_total", channel="email") == 1
        assert value(s, "helpline_ticket_events_total", stage="tickets",
                     kind="message-added") == 2


# -- route: domain counters from produced events -------------------------------------------


ROUTE_FAST_SLA = """[route]
tick_interval_s = 0.2
classify_wait_seconds = 0
accept_timeout_minutes = 0
[[route.sla_policies]]
name = "fast"
first_response_minutes = 0.05
warn_before_minutes = 0
"""


def test_route_worker_counts_sla_breaches_it_produced(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    config = tmp_path / "helpline.toml"
    config.write_text(ROUTE_FAST_SLA, encoding="utf-8")
    now = datetime.now(UTC)
    events = [created(t, now) for t in ("r1", "r2")]
    asyncio.run(produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in events]))
    with worker("route", kafka_conn, tmp_path, config,
                HELPLINE_RUNNER__BATCH_TIMEOUT_MS="20") as port:
        s = wait_for(port, lambda s: value(s, "helpline_sla_breaches_total",
                                           metric="first-response") == 2, "two breaches")
        assert value(s, "helpline_ticket_events_total", stage="route", kind="sla-breached") == 2
        assert value(s, "helpline_ticket_events_total", stage="route", kind="sla-applied") == 2
        assert value(s, "helpline_records_in_total", stage="route", topic="ticket.events") >= 2
        assert value(s, "helpline_consumer_lag", stage="route", topic="ticket.events") == 0
        assert value(s, "helpline_stage_ready", stage="route") == 1


# -- notify: what only the stage sees ------------------------------------------------------


def test_notify_counts_outcomes_reasons_retries_and_send_time(
    kafka_conn: KafkaConnection,
) -> None:
    now = datetime.now(UTC)
    port = free_port()

    async def go(sink: SmtpSink, hook: WebhookReceiver) -> Samples:
        registry = CollectorRegistry()
        metrics = StageMetrics.create(registry)
        cfg = settings(smtp=SmtpSettings(port=sink.port), tick_interval_s=0.2,
                       sentlog_linger_ms=0,
                       webhooks={"ops": WebhookTarget(url=hook.url())})
        # the worker's own factory: the meter reaches the stage through its context
        stage = build_stage(StageContext(kafka=kafka_conn, sections=_Sections(cfg),
                                         signing_key=KEY, meter=metrics.meter()))
        runner = StageRunner(stage, kafka_conn, RunnerSettings(batch_timeout_ms=20), metrics)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(runner.run(stop)),
                 asyncio.create_task(serve(health_app(registry, lambda: {"ready": True}),
                                           "127.0.0.1", port, stop))]
        loop = asyncio.get_running_loop()

        async def until(ok: Callable[[Samples], bool], what: str) -> Samples:
            def alive() -> None:
                for t in tasks:
                    if t.done():
                        t.result()
            return await loop.run_in_executor(None, wait_for, port, ok, what, alive)

        try:
            await produce(kafka_conn, NOTIFY_OUTBOX, [
                (b"t000001", alert("a1", at=now, tid="t000001")),  # sent by mail
                (b"t000002", alert("a2", at=now, tid="t000002", channel="webhook",
                                   webhook="ops")),  # sent to the webhook
                (b"t000003", alert("a3", at=now, tid="t000003", channel="webhook",
                                   webhook="gone")),  # no such webhook: failed
                # an auto-ack to one of our own addresses: suppressed (loop guard)
                (b"t000004", _own_ack(now)),
            ])
            await until(lambda s: value(s, "helpline_notify_notifications_total",
                                        kind="auto-ack", channel="email",
                                        outcome="suppressed", reason="own-address") == 1
                        and value(s, "helpline_notify_notifications_total",
                                  kind="sla-warning", channel="email", outcome="sent",
                                  reason="none") == 1, "first round")
            sink.set_mode("tempfail")
            await produce(kafka_conn, NOTIFY_OUTBOX, [
                (b"t000005", alert("a5", at=now, tid="t000005", to="boss@example.com"))])
            return await until(lambda s: value(s, "helpline_notify_retries_total",
                                               channel="email") >= 1, "a retry")
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await stage.drain()

    with SmtpSink() as sink, WebhookReceiver() as hook:
        s = asyncio.run(go(sink, hook))
    n = "helpline_notify_notifications_total"
    assert value(s, n, kind="sla-warning", channel="webhook", outcome="sent", reason="none") == 1
    assert value(s, n, kind="sla-warning", channel="webhook", outcome="failed",
                 reason="permanent") == 1
    d = "helpline_notify_deliveries_total"
    assert value(s, d, channel="email", outcome="ok") == 1
    assert value(s, d, channel="email", outcome="retriable") >= 1
    assert value(s, d, channel="webhook", outcome="ok") == 1
    assert value(s, d, channel="webhook", outcome="permanent") == 1
    assert value(s, "helpline_notify_send_seconds_count", channel="email", outcome="ok") == 1
    assert value(s, "helpline_notify_send_seconds_count", channel="email", outcome="error") >= 1
    # cause to send: one per notification sent, none for the failed or suppressed ones
    e2e = "helpline_notify_end_to_end_seconds_count"
    assert value(s, e2e, kind="sla-warning", channel="email") == 1
    assert value(s, e2e, kind="sla-warning", channel="webhook") == 1
    assert value(s, e2e, kind="auto-ack", channel="email") == 0
    assert value(s, "helpline_notify_end_to_end_seconds_sum", kind="sla-warning",
                 channel="email") >= 0
    assert not any("@" in v for _, labels in s for _, v in labels)


class _Sections:
    def __init__(self, notify: NotifySettings) -> None:
        self.notify = notify


def _own_ack(now: datetime) -> object:
    from dataclasses import replace

    a = alert("a4", at=now, tid="t000004", to="support@acme.test")
    return replace(a, kind="auto-ack")
