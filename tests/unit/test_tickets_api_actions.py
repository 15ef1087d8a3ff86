"""Agent actions over HTTP: the POST is checked, authorised, turned into the same command the
CLI queues, and the tickets stage applies it; a retried POST with the same Idempotency-Key
queues the same command, which the stage applies once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from schemas.commands import AgentAction
from schemas.topics import NOTIFY_OUTBOX
from tests.support.tickets_builders import email, events_of, feed, make_stage, view_of
from tickets.api import build_app
from tickets.api_actions import ActionRejected, parse_action
from tickets.stage import TicketsStage

TOKEN = "s3cret-token"
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _setup(token: str | None = TOKEN) -> tuple[TestClient, list[AgentAction], TicketsStage]:
    stage = make_stage()
    view = view_of(feed(stage, [email("a1", text="My invoice is wrong"),
                                email("b1", "bob@example.org", subject="Other", minutes=5)]))
    queued: list[AgentAction] = []

    async def submit(cmd: AgentAction) -> None:
        queued.append(cmd)

    app = build_app(view, submit=submit, token=token, clock=lambda: NOW)
    return TestClient(app, base_url="http://localhost:8086"), queued, stage


def test_reply_is_queued_and_the_stage_sends_it() -> None:
    client, queued, stage = _setup()
    r = client.post("/tickets/HL-2026-000001/actions", headers=AUTH,
                    json={"action": "reply", "agent": "agent-7", "text": "Fixed, sorry!",
                          "status": "pending"})
    assert r.status_code == 202, r.text
    assert r.json()["number"] == "HL-2026-000001" and r.json()["action"] == "reply"
    (cmd,) = queued
    assert (cmd.action, cmd.agent_id, cmd.text, cmd.status, cmd.at) == (
        "reply", "agent-7", "Fixed, sorry!", "pending", NOW)
    assert cmd.ticket_id == r.json()["ticket_id"]

    outs = feed(stage, [cmd])
    kinds = [e.kind for e in events_of(outs)]
    assert "message-added" in kinds and "status-changed" in kinds
    (note,) = [o.value for o in outs if o.topic is NOTIFY_OUTBOX]
    assert note.kind == "agent-reply" and note.recipient.address == "alice@example.com"


def test_a_retried_post_with_the_same_idempotency_key_is_applied_once() -> None:
    client, queued, stage = _setup()
    body = {"action": "note", "agent": "agent-7", "text": "Customer called"}
    for _ in range(2):
        r = client.post("/tickets/HL-2026-000001/actions", json=body,
                        headers={**AUTH, "Idempotency-Key": "crm-42"})
        assert r.status_code == 202
    first, again = queued
    assert first.command_id == again.command_id
    assert len(events_of(feed(stage, [first]))) == 1
    assert events_of(feed(stage, [again])) == []
    other = client.post("/tickets/HL-2026-000001/actions", json=body, headers=AUTH)
    assert other.json()["command_id"] != first.command_id


def test_merge_target_is_resolved_by_number() -> None:
    client, queued, _ = _setup()
    r = client.post("/tickets/HL-2026-000005/actions", headers=AUTH,
                    json={"action": "merge", "agent": "a", "target": "HL-2026-000001"})
    assert r.status_code == 202, r.text
    assert queued[0].target_ticket_id == client.get("/tickets/HL-2026-000001",
                                                   headers=AUTH).json()["ticket_id"]
    missing = client.post("/tickets/HL-2026-000005/actions", headers=AUTH,
                          json={"action": "merge", "agent": "a", "target": "HL-2026-999999"})
    assert missing.status_code == 404


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": TOKEN}, 401),
])
def test_actions_need_the_bearer_token(headers: dict[str, str], status: int) -> None:
    client, queued, _ = _setup()
    r = client.post("/tickets/HL-2026-000001/actions", headers=headers,
                    json={"action": "note", "agent": "a", "text": "x"})
    assert r.status_code == status and queued == []


def test_actions_are_refused_while_no_token_is_configured() -> None:
    client, queued, _ = _setup(token=None)
    r = client.post("/tickets/HL-2026-000001/actions", headers=AUTH,
                    json={"action": "note", "agent": "a", "text": "x"})
    assert r.status_code == 403 and "api_token" in r.json()["error"] and queued == []


def test_bad_bodies_are_400_unknown_tickets_404_and_a_down_broker_503() -> None:
    client, queued, _ = _setup()
    url = "/tickets/HL-2026-000001/actions"
    assert client.post(url, headers=AUTH, content=b"{nope").status_code == 400
    r = client.post(url, headers=AUTH, json={"action": "reply", "agent": "a"})
    assert r.status_code == 400 and r.json()["error"] == "reply needs text"
    assert client.post("/tickets/HL-2026-777777/actions", headers=AUTH,
                       json={"action": "note", "agent": "a", "text": "x"}).status_code == 404
    assert queued == []

    async def down(cmd: AgentAction) -> None:
        raise ConnectionError("broker gone")

    app = build_app(view_of(feed(make_stage(), [email("a1")])), submit=down, token=TOKEN)
    client = TestClient(app, base_url="http://localhost")
    r = client.post(url, headers=AUTH, json={"action": "note", "agent": "a", "text": "x"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"


@pytest.mark.parametrize(("body", "error"), [
    ([], "the body must be a JSON object"),
    ({"action": "delete", "agent": "a"}, "action must be one of"),
    ({"action": "note", "text": "x"}, "agent is required"),
    ({"action": "note", "agent": "a", "text": 3}, "text must be a string"),
    ({"action": "set-status", "agent": "a", "status": "done"}, "unknown status 'done'"),
    ({"action": "set-priority", "agent": "a", "priority": "p1"}, "unknown priority 'p1'"),
    ({"action": "note", "agent": "a", "text": "x", "cc": "y"}, "unknown field 'cc'"),
    ({"action": "assign", "agent": "a"}, "assign needs assignee"),
])
def test_parse_action_says_what_is_wrong(body: Any, error: str) -> None:
    with pytest.raises(ActionRejected, match=error):
        parse_action(body, "t-1", NOW)


def test_assign_with_a_null_assignee_unassigns() -> None:
    cmd = parse_action({"action": "assign", "agent": "a", "assignee": None}, "t-1", NOW)
    assert cmd.action == "assign" and cmd.assignee is None


def test_the_same_idempotency_key_on_two_tickets_names_two_commands() -> None:
    body = {"action": "note", "agent": "a", "text": "x"}
    one = parse_action(body, "t-1", NOW, "k")
    assert one.command_id == parse_action(body, "t-1", NOW, "k").command_id
    assert one.command_id != parse_action(body, "t-2", NOW, "k").command_id
