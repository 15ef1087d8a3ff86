"""The operator's side against a real broker: load the customer directory with the CLI, the
stage files mail from a directory customer on a ticket under that customer, an agent replies
through `helpline tickets reply`, and `helpline tickets list/show` and the HTTP API (fed from
the state and event topics) show the ticket, its events and its conversation."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from runtime.topic_io import KafkaTopicIO
from schemas.stage import KafkaConnection
from schemas.topics import MESSAGES, NOTIFY_OUTBOX, TICKET_EVENTS
from tests.support.kafka import produce, read_to_end
from tests.support.tickets_builders import email, make_stage
from tickets.api import build_app
from tickets.feed import TicketFeed
from tickets.view import TicketView

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DIRECTORY = REPO / "tests" / "golden" / "tickets" / "directory.csv"


def helpline(conn: KafkaConnection, *args: str) -> str:
    env = {**os.environ, "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": conn.bootstrap_servers,
           "HELPLINE_KAFKA__TOPIC_PREFIX": conn.topic_prefix}
    env.pop("HELPLINE_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "runtime.cli", *args], cwd=REPO, env=env,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


async def run_stage_until(conn: KafkaConnection, events: int) -> None:
    stop = asyncio.Event()
    runner = StageRunner(make_stage(own_addresses=("support@acme.test",)), conn,
                         RunnerSettings(batch_timeout_ms=20))
    task = asyncio.create_task(runner.run(stop))
    try:
        for _ in range(600):
            if task.done():
                task.result()
            if len(await read_to_end(conn, TICKET_EVENTS)) >= events:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the stage did not write the expected events")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def test_directory_cli_reply_list_show_and_api(kafka_conn: KafkaConnection) -> None:
    assert "2 customers published" in helpline(kafka_conn, "customers", "load", str(DIRECTORY))
    mail = email("q1", "ceo@acme.test", subject="Board deck broken", text="Please fix today")
    asyncio.run(produce(kafka_conn, MESSAGES, [(mail.partition_key, mail)]))
    asyncio.run(run_stage_until(kafka_conn, 2))

    listed: list[dict[str, Any]] = json.loads(helpline(kafka_conn, "tickets", "list", "--json"))
    assert [(t["number"], t["status"], t["requester"]) for t in listed] == [
        ("HL-2026-000001", "new", "ceo@acme.test")]

    out = helpline(kafka_conn, "tickets", "reply", "HL-2026-000001", "On it, sorry!",
                   "--agent", "agent-7", "--status", "pending")
    assert "reply queued" in out
    # created, message-added, then the reply: message-added(outbound), status-changed
    asyncio.run(run_stage_until(kafka_conn, 4))
    (note,) = asyncio.run(read_to_end(kafka_conn, NOTIFY_OUTBOX))
    assert note.value.kind == "agent-reply" and note.value.recipient.address == "ceo@acme.test"

    shown = json.loads(helpline(kafka_conn, "tickets", "show", "HL-2026-000001", "--events"))
    assert shown["ticket"]["status"] == "pending"
    # the directory's customer (loaded from the CSV), not an address-derived one
    assert shown["ticket"]["customer_id"] == "c98aff88336c09bca"
    assert [(m["direction"], m["text"]) for m in shown["conversation"]] == [
        ("inbound", "Please fix today"), ("outbound", "On it, sorry!")]
    assert [e["payload"]["kind"] for e in shown["events"]] == [
        "created", "message-added", "message-added", "status-changed"]

    async def api_view() -> TicketView:
        view = TicketView()
        feed = TicketFeed(KafkaTopicIO(kafka_conn), view)
        try:
            await feed.start(30)
        finally:
            await feed.stop()
        return view

    client = TestClient(build_app(asyncio.run(api_view())), base_url="http://localhost")
    body = client.get("/tickets/HL-2026-000001/conversation").json()
    assert [m["author"] for m in body["messages"]] == ["ceo@acme.test", "agent-7"]
    assert client.get("/tickets", params={"status": "pending"}).json()["count"] == 1
