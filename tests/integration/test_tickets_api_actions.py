"""`helpline tickets api` as a process on a real broker: an external helpdesk POSTs a reply with
the bearer token, the command lands on ticket.commands, the tickets stage applies it and the
API's own feed then shows the reply in the conversation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from runtime.kafka import free_port
from schemas.stage import KafkaConnection
from schemas.topics import MESSAGES, TICKET_COMMANDS
from tests.integration.test_tickets_query import run_stage_until
from tests.support.kafka import produce, read_to_end
from tests.support.tickets_builders import email

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN = "it-token-123"


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the API did not come up")


def test_an_external_helpdesk_replies_over_http(kafka_conn: KafkaConnection) -> None:
    mail = email("h1", "dana@example.org", subject="Refund", text="Where is my refund?")
    asyncio.run(produce(kafka_conn, MESSAGES, [(mail.partition_key, mail)]))
    asyncio.run(run_stage_until(kafka_conn, 2))

    port = free_port()
    env = {**os.environ, "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": kafka_conn.bootstrap_servers,
           "HELPLINE_KAFKA__TOPIC_PREFIX": kafka_conn.topic_prefix,
           "HELPLINE_TICKETS__API_TOKEN": TOKEN}
    env.pop("HELPLINE_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "tickets", "api",
                             "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{base}/tickets").status_code == 401
        (ticket,) = httpx.get(f"{base}/tickets", headers=auth).json()["tickets"]
        url = f"{base}/tickets/{ticket['number']}"
        denied = httpx.post(f"{url}/actions",
                            json={"action": "note", "agent": "x", "text": "y"})
        assert denied.status_code == 401
        r = httpx.post(f"{url}/actions",
                       headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k1"},
                       json={"action": "reply", "agent": "desk-bot", "text": "Refund sent today"})
        assert r.status_code == 202, r.text
        (cmd,) = asyncio.run(read_to_end(kafka_conn, TICKET_COMMANDS))
        assert (cmd.value.action, cmd.value.text, cmd.value.command_id) == (
            "reply", "Refund sent today", r.json()["command_id"])

        asyncio.run(run_stage_until(kafka_conn, 3))
        deadline = time.monotonic() + 30
        texts: list[str] = []
        while time.monotonic() < deadline:
            conv = httpx.get(f"{url}/conversation", headers=auth).json()
            texts = [m["text"] for m in conv["messages"]]
            if len(texts) == 2:
                break
            time.sleep(0.2)
        assert texts == ["Where is my refund?", "Refund sent today"]
    finally:
        proc.terminate()
        proc.wait(30)
