"""Continuity for real: a visitor writes through the chat API, gives an email and leaves (no
event stream ever opens). The normalize, tickets and notify stages create the ticket and the
chat auto-ack; the chat service finds nobody listening, waits ``left_after_s``, and hands the
ack to notify.outbox for email; notify sends it through a real SMTP server to the visitor, on
the same ticket."""

from __future__ import annotations

import time

import httpx
import pytest

from ingest.chat.settings import ChatSettings, SiteSettings
from schemas.stage import KafkaConnection
from schemas.topics import NOTIFY_OUTBOX
from tests.support.chat_kafka import topic_now
from tests.support.chat_pipeline import running_stages
from tests.support.chat_service import SIGNING_KEY, running_chat
from tests.support.notify_sink import SmtpSink

pytestmark = pytest.mark.integration

ORIGIN = "https://shop.example"
WAIT_S = 60.0


def test_the_ack_of_a_visitor_who_left_is_emailed(kafka_conn: KafkaConnection) -> None:
    settings = ChatSettings(
        sites=(SiteSettings(id="acme", allowed_origins=(ORIGIN,), availability="online"),),
        port=0, left_after_s=1.0, fallback_check_interval_s=0.2,
    )
    with SmtpSink() as sink:
        env = {"HELPLINE_NOTIFY__SMTP__PORT": str(sink.port),
               "HELPLINE_NOTIFY__SLA_WAIT_S": "0.5", "HELPLINE_NOTIFY__TICK_INTERVAL_S": "0.2"}
        with running_stages(kafka_conn, ("normalize", "tickets", "notify"), SIGNING_KEY, env), \
                running_chat(kafka_conn, settings) as chat, httpx.Client(base_url=chat.url) as c:
            conv = c.post("/v1/sites/acme/conversations", json={}, headers={"Origin": ORIGIN})
            token = conv.json()["visitor_token"]
            r = c.post(f"/v1/sites/acme/conversations/{conv.json()['conversation_id']}/messages",
                       json={"message_id": "m1", "text": "Where is my refund?",
                             "name": "Bob Stone", "email": "bob@example.com"},
                       headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"})
            assert r.status_code == 202
            deadline = time.monotonic() + WAIT_S
            while not sink.received and time.monotonic() < deadline:
                time.sleep(0.3)
            handed_over = topic_now(kafka_conn, NOTIFY_OUTBOX)
        [mail] = sink.received
    assert mail.rcpt_tos == ["bob@example.com"]
    [note] = [n for n in handed_over if n.channel == "email"]
    assert note.context["via"] == "chat-fallback" and note.kind == "auto-ack"
    body = mail.message.get_body(("plain",))
    assert body is not None and note.ticket_number in body.get_content()
