"""The read-only JSON API over a view fed with what the stage wrote."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from schemas.topics import TICKET_STATE
from tests.support.tickets_builders import action, email, events_of, feed, make_stage, mid
from tickets.api import build_app
from tickets.settings import TicketsSettings
from tickets.view import TicketView

LOCAL = "http://localhost:8086"  # TestClient's default Host, "testserver", is not allowed


def _client(token: str | None = None) -> tuple[TestClient, str]:
    stage = make_stage()
    outs = feed(stage, [
        email("a1", text="It is on fire"),
        action("c1", "HL-2026-000001", "reply", text="Use the extinguisher"),
        email("a2", references=[mid("a1")], minutes=30, text="Done, thanks"),
        email("b1", "bob@example.org", subject="Other", minutes=40),
        action("c2", "HL-2026-000005", "set-status", status="pending", minutes=41),
    ])
    view = TicketView()
    for o in outs:
        if o.topic is TICKET_STATE:
            view.apply_state(o.key.decode(), o.value)
    for e in events_of(outs):
        view.apply_event(e)
    for e in events_of(outs):  # the log read twice (redelivery) shows each event once
        view.apply_event(e)
    app = build_app(view, token=token)
    return TestClient(app, base_url=LOCAL), events_of(outs)[0].ticket_id


def test_list_filters_and_orders_by_update() -> None:
    client, _ = _client()
    body = client.get("/tickets").json()
    assert [t["number"] for t in body["tickets"]] == ["HL-2026-000005", "HL-2026-000001"]
    only = client.get("/tickets", params={"status": "pending"}).json()["tickets"]
    assert [t["number"] for t in only] == ["HL-2026-000005"]
    assert client.get("/tickets", params={"status": "bogus"}).status_code == 400


def test_show_by_number_or_id_events_and_conversation() -> None:
    client, tid = _client()
    by_number = client.get("/tickets/HL-2026-000001").json()
    assert by_number == client.get(f"/tickets/{tid}").json()
    assert by_number["status"] == "open" and "event_ids" not in by_number
    events = client.get(f"/tickets/{tid}/events").json()["events"]
    assert [e["payload"]["kind"] for e in events] == [
        "created", "message-added", "message-added", "status-changed", "message-added"]
    convo = client.get("/tickets/hl-2026-000001/conversation").json()["messages"]
    assert [(m["direction"], m["text"]) for m in convo] == [
        ("inbound", "It is on fire"), ("outbound", "Use the extinguisher"),
        ("inbound", "Done, thanks")]
    assert client.get("/tickets/HL-2026-999999").status_code == 404
    assert client.get("/healthz").json() == {"ready": True, "tickets": 2}


READS = ["/tickets", "/tickets/HL-2026-000001", "/tickets/HL-2026-000001/events",
         "/tickets/HL-2026-000001/conversation"]


@pytest.mark.parametrize("path", READS)
def test_reads_need_the_bearer_token_once_one_is_set(path: str) -> None:
    client, _ = _client(token="s3cret")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        r = client.get(path, headers=headers)
        assert r.status_code == 401, (path, headers)
        assert r.headers["www-authenticate"] == "Bearer"
        assert "HL-2026" not in r.text
    assert client.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_reads_stay_open_while_no_token_is_set() -> None:
    client, _ = _client()
    assert all(client.get(path).status_code == 200 for path in READS)


@pytest.mark.parametrize(("host", "status"), [
    ("localhost:8086", 200), ("127.0.0.1", 200), ("[::1]:9999", 200), ("LOCALHOST", 200),
    ("evil.example.com", 400), ("evil.example.com:8086", 400), ("localhost.evil.com", 400),
    ("testserver", 400),
])
def test_only_allowed_host_headers_are_answered(host: str, status: int) -> None:
    client, _ = _client()
    for path in ("/tickets", "/healthz"):
        assert client.get(path, headers={"Host": host}).status_code == status, (path, host)


def test_allowed_hosts_are_a_setting() -> None:
    assert TicketsSettings().api_allowed_hosts == ("localhost", "127.0.0.1", "[::1]")
    hosts = TicketsSettings(api_allowed_hosts=("helpline.internal",)).api_allowed_hosts
    app = build_app(TicketView(), allowed_hosts=hosts)
    client = TestClient(app, base_url="http://helpline.internal:8086")
    assert client.get("/tickets").status_code == 200
    assert client.get("/tickets", headers={"Host": "localhost"}).status_code == 400
    with pytest.raises(ValueError, match="bad host pattern"):
        TicketsSettings(api_allowed_hosts=("evil.*",))


def test_list_pages_with_offset_and_next_offset() -> None:
    client, _ = _client()
    first = client.get("/tickets", params={"limit": 1}).json()
    assert [t["number"] for t in first["tickets"]] == ["HL-2026-000005"]
    assert (first["count"], first["offset"], first["next_offset"]) == (1, 0, 1)
    last = client.get("/tickets", params={"limit": 1, "offset": first["next_offset"]}).json()
    assert [t["number"] for t in last["tickets"]] == ["HL-2026-000001"]
    assert (last["offset"], last["next_offset"]) == (1, None)
    beyond = client.get("/tickets", params={"offset": 5}).json()
    assert (beyond["tickets"], beyond["count"], beyond["next_offset"]) == ([], 0, None)
    assert client.get("/tickets").json()["next_offset"] is None
    for bad in ("-1", "x", "1.5", ""):
        r = client.get("/tickets", params={"offset": bad})
        assert r.status_code == 400 and "offset" in r.json()["error"], bad
