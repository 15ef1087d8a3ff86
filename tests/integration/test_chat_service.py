"""The chat service for real: uvicorn on a loopback port, the real broker. Accepted messages
are on raw.chat before 202; forged HMACs, oversized bodies, wrong origins and floods are each
refused with their status and leave nothing on the topic; replies reach the open widget
stream, or the visitor's email once they left; a dead broker means 503, never 202."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.chat.identity import identifier_hash
from ingest.chat.normalize import chat_message_id
from ingest.chat.settings import ChatSettings, RateLimit, SiteSettings
from schemas.notification import ChatReply, Notification
from schemas.raw import RawChatMessage
from schemas.stage import KafkaConnection
from schemas.topics import CHAT_OUTBOUND, NOTIFY_OUTBOX, RAW_CHAT
from tests.support.chat_kafka import topic_now
from tests.support.chat_service import running_chat
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration

ORIGIN = "https://shop.example"
SECRET = "acme-secret"
H = {"Origin": ORIGIN}


def settings(**overrides: Any) -> ChatSettings:
    values: dict[str, Any] = {
        "sites": (SiteSettings(id="acme", allowed_origins=(ORIGIN,), secret=SECRET,
                               availability="online"),),
        "port": 0,
        "visitor_messages": RateLimit(per_minute=6, burst=4),
        "ip_messages": RateLimit(per_minute=6000, burst=1000),
        "ip_conversations": RateLimit(per_minute=600, burst=100),
        "max_body_bytes": 2048,
        "max_message_chars": 300,
        "sse_heartbeat_s": 0.5,
        "left_after_s": 1.0,
        "fallback_check_interval_s": 0.2,
    }
    values.update(overrides)
    return ChatSettings(**values)


def start(c: httpx.Client, **body: Any) -> dict[str, Any]:
    r = c.post("/v1/sites/acme/conversations", json=body, headers=H)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def post(c: httpx.Client, conv: dict[str, Any], headers: dict[str, str] | None = None,
         **body: Any) -> httpx.Response:
    body.setdefault("message_id", "m1")
    body.setdefault("text", "Hello, my parcel never arrived")
    return c.post(f"/v1/sites/acme/conversations/{conv['conversation_id']}/messages", json=body,
                  headers=headers if headers is not None else
                  {**H, "Authorization": f"Bearer {conv['visitor_token']}"})


def raw_chat(conn: KafkaConnection) -> list[RawChatMessage]:
    return topic_now(conn, RAW_CHAT)


def test_accepted_messages_are_on_raw_chat_once_with_a_stable_id(
        kafka_conn: KafkaConnection) -> None:
    with running_chat(kafka_conn, settings()) as chat, httpx.Client(base_url=chat.url) as c:
        conv = start(c, name="Alice")
        answers = [post(c, conv, email="alice@example.com", name="Alice") for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 202]
        assert len({a.json()["id"] for a in answers}) == 1
    [raw] = raw_chat(kafka_conn)
    assert raw.email == "alice@example.com" and raw.conversation_id == conv["conversation_id"]
    assert answers[0].json()["id"] == chat_message_id("acme", raw.message_id)


def test_every_kind_of_abuse_is_refused_and_leaves_nothing_on_raw_chat(
        kafka_conn: KafkaConnection) -> None:
    with running_chat(kafka_conn, settings()) as chat, httpx.Client(base_url=chat.url) as c:
        forged = c.post("/v1/sites/acme/conversations", headers=H, json={
            "identifier": "alice@example.com",
            "identifier_hash": identifier_hash("not-the-secret", "alice@example.com")})
        assert forged.status_code == 403
        conv = start(c)
        token = conv["visitor_token"]
        statuses = {
            "forged token": post(c, conv, {**H, "Authorization": f"Bearer {token[:-3]}abc"}),
            "wrong origin": post(c, conv, {"Origin": "https://evil.example",
                                           "Authorization": f"Bearer {token}"}),
            "no origin": post(c, conv, {"Authorization": f"Bearer {token}"}),
            "oversized body": post(c, conv, text="x" * 4000),
            "too long text": post(c, conv, text="x" * 301),
            "bad json": c.post(f"/v1/sites/acme/conversations/{conv['conversation_id']}/messages",
                               content=b"{nope", headers={**H, "Authorization": f"Bearer {token}",
                                                          "Content-Type": "application/json"}),
        }
        assert {k: r.status_code for k, r in statuses.items()} == {
            "forged token": 401, "wrong origin": 403, "no origin": 403, "oversized body": 413,
            "too long text": 422, "bad json": 400}
        for r in statuses.values():
            assert r.json()["error"]["message"]
        assert raw_chat(kafka_conn) == []
        flood = [post(c, conv, message_id=f"f{i}") for i in range(12)]
        accepted = [r for r in flood if r.status_code == 202]
        refused = [r for r in flood if r.status_code == 429]
        assert len(accepted) == 4 and len(refused) == 8
        assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    on_topic = raw_chat(kafka_conn)
    assert sorted(m.message_id.split(".")[1] for m in on_topic) == ["f0", "f1", "f2", "f3"]


def _reply(conv: dict[str, Any], n: int, fallback: str | None = None) -> ChatReply:
    return ChatReply(notification_id=f"ack-{conv['conversation_id']}-{n}", site_id="acme",
                     conversation_id=conv["conversation_id"], ticket_id="T-1",
                     ticket_number="1001", kind="auto-ack", text=f"We got it ({n})",
                     at=datetime.now(UTC), fallback_email=fallback)


def _events(lines: Any, wanted: int) -> list[str]:
    data: list[str] = []
    for line in lines:
        if line.startswith("data: "):
            data.append(line[6:])
            if len(data) == wanted:
                break
    return data


def test_replies_reach_the_open_stream_and_a_reconnecting_one(
        kafka_conn: KafkaConnection) -> None:
    with running_chat(kafka_conn, settings()) as chat, \
            httpx.Client(base_url=chat.url, timeout=20) as c:
        conv = start(c)
        assert post(c, conv).status_code == 202
        url = (f"/v1/sites/acme/conversations/{conv['conversation_id']}/events"
               f"?token={conv['visitor_token']}")
        with c.stream("GET", url, headers=H) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            asyncio.run(produce(kafka_conn, CHAT_OUTBOUND, [(b"k", _reply(conv, 1))]))
            [live] = _events(lines, 1)
        assert '"text":"We got it (1)"' in live
        with c.stream("GET", url, headers=H) as stream:  # page reload: the backlog comes first
            [again] = _events(stream.iter_lines(), 1)
        assert again == live
        wrong = c.get(url.replace(conv["visitor_token"], "forged.token"), headers=H)
        assert wrong.status_code == 401


def test_a_reply_for_a_visitor_who_left_goes_out_by_email(kafka_conn: KafkaConnection) -> None:
    with running_chat(kafka_conn, settings()) as chat, httpx.Client(base_url=chat.url) as c:
        conv = start(c)
        assert post(c, conv, email="bob@example.com", name="Bob").status_code == 202
        asyncio.run(produce(kafka_conn, CHAT_OUTBOUND, [(b"k", _reply(conv, 1))]))
        notes = asyncio.run(read_topic(kafka_conn, NOTIFY_OUTBOX, expect=1, timeout_s=20))
    [note] = [n.value for n in notes]
    assert isinstance(note, Notification)
    assert note.channel == "email" and note.ticket_id == "T-1" and note.kind == "auto-ack"
    assert note.recipient is not None and note.recipient.address == "bob@example.com"
    assert note.context["text"] == "We got it (1)"


def test_replies_written_before_a_restart_reach_a_reconnecting_widget_and_are_never_emailed(
        kafka_conn: KafkaConnection) -> None:
    with running_chat(kafka_conn, settings()) as chat, httpx.Client(base_url=chat.url) as c:
        back, gone = start(c), start(c)
    # written while no chat service ran (a restart): re-read at start-up, marked replayed
    asyncio.run(produce(kafka_conn, CHAT_OUTBOUND, [
        (b"k", _reply(back, 1, fallback="ann@example.com")),
        (b"k", _reply(gone, 1, fallback="bob@example.com"))]))
    with running_chat(kafka_conn, settings()) as chat, \
            httpx.Client(base_url=chat.url, timeout=20) as c:
        url = (f"/v1/sites/acme/conversations/{back['conversation_id']}/events"
               f"?token={back['visitor_token']}")
        with c.stream("GET", url, headers=H) as stream:
            [again] = _events(stream.iter_lines(), 1)
        assert '"text":"We got it (1)"' in again
        # a reply written once the service runs goes out by email to a visitor who left;
        # the replayed one, due earlier, would have gone with it or before
        asyncio.run(produce(kafka_conn, CHAT_OUTBOUND,
                            [(b"k", _reply(gone, 2, fallback="bob@example.com"))]))
        asyncio.run(read_topic(kafka_conn, NOTIFY_OUTBOX, expect=2, timeout_s=20))
        notes = topic_now(kafka_conn, NOTIFY_OUTBOX)
    assert [n.context["text"] for n in notes if n.context["via"] == "chat-fallback"] == [
        "We got it (2)"]
    # the reply the reconnecting widget received: a receipt, so no replica emails it (#17)
    [receipt] = [n for n in notes if n.context["via"] == "chat-delivered"]
    assert receipt.conversation_id == back["conversation_id"] and receipt.recipient is None


def test_a_dead_broker_means_503_and_never_202(tmp_path: Path) -> None:
    from runtime.kafka import running_cluster
    from runtime.kafka_io import create_topics
    from runtime.settings import LocalKafkaSettings

    root = Path(__file__).resolve().parents[2]
    with running_cluster(LocalKafkaSettings(heap="384m"), tmp_path / "k", root=root) as cluster:
        conn = KafkaConnection(bootstrap_servers=cluster.bootstrap, topic_prefix="d.")
        asyncio.run(create_topics(conn, partitions=1))
        with running_chat(conn, settings(publish_timeout_s=2.0), publish_timeout_s=2.0) as chat, \
                httpx.Client(base_url=chat.url, timeout=20) as c:
            conv = start(c)
            assert post(c, conv, message_id="before").status_code == 202
            cluster.kill(1)
            began = time.monotonic()
            down = post(c, conv, message_id="during")
            assert down.status_code == 503 and down.headers["Retry-After"] == "2"
            assert down.json()["error"]["code"] == "unavailable"
            assert time.monotonic() - began < 15  # bounded by publish_timeout_s, not hanging
