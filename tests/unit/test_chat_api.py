"""The chat API in process (ASGI, in-memory publisher): statuses, error bodies, and that a
refused request publishes nothing. The same cases run against uvicorn and real Kafka in
tests/integration/test_chat_service.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ingest.chat.app import create_app, own_origins
from ingest.chat.desk import ChatDesk
from ingest.chat.identity import identifier_hash
from ingest.chat.normalize import chat_message_id
from schemas.directory import Agent
from schemas.raw import RawChatMessage
from schemas.topics import RAW_CHAT
from tests.support.chat_fakes import ORIGIN, SECRET, ManualClock, MemoryPublisher, chat_settings

H = {"Origin": ORIGIN}


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def desk(publisher: MemoryPublisher, clock: ManualClock) -> ChatDesk:
    return ChatDesk(chat_settings(), b"k" * 32, publisher, clock=clock)


@pytest.fixture
async def client(desk: ChatDesk) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(desk), client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as c:
        yield c


async def start(client: httpx.AsyncClient, site: str = "acme", **body: Any) -> dict[str, Any]:
    r = await client.post(f"/v1/sites/{site}/conversations", json=body, headers=H)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def post(client: httpx.AsyncClient, conv: dict[str, Any], site: str = "acme",
               **body: Any) -> httpx.Response:
    body.setdefault("message_id", "m1")
    body.setdefault("text", "Hello, my parcel never arrived")
    return await client.post(
        f"/v1/sites/{site}/conversations/{conv['conversation_id']}/messages", json=body,
        headers={**H, "Authorization": f"Bearer {conv['visitor_token']}"})


async def test_a_message_is_published_before_202(client: httpx.AsyncClient,
                                                 publisher: MemoryPublisher) -> None:
    conv = await start(client, name="Alice")
    r = await post(client, conv, email="alice@example.com", name="Alice", locale="fr")
    assert r.status_code == 202
    assert r.headers["access-control-allow-origin"] == ORIGIN
    [raw] = publisher.on(RAW_CHAT)
    assert isinstance(raw, RawChatMessage)
    assert (raw.site_id, raw.conversation_id, raw.email) == ("acme", conv["conversation_id"],
                                                             "alice@example.com")
    assert raw.visitor_id == conv["visitor_id"] and raw.verified_identifier is None
    assert r.json()["id"] == chat_message_id("acme", raw.message_id)
    assert publisher.published[0][1] == f"acme:{conv['conversation_id']}".encode()


async def test_a_retried_message_keeps_its_id_and_is_published_once(
        client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    conv = await start(client)
    first, again = await post(client, conv), await post(client, conv)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and again.json()["duplicate"] is True
    assert len(publisher.on(RAW_CHAT)) == 1


async def test_broker_down_is_503_with_retry_after_and_the_retry_succeeds(
        client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    conv = await start(client)
    publisher.down = True
    r = await post(client, conv)
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["code"] == "unavailable"
    publisher.down = False
    assert (await post(client, conv)).status_code == 202
    assert len(publisher.on(RAW_CHAT)) == 1


async def test_slow_broker_is_503(publisher: MemoryPublisher, clock: ManualClock) -> None:
    desk = ChatDesk(chat_settings(publish_timeout_s=0.05), b"k" * 32, publisher, clock=clock)
    transport = httpx.ASGITransport(app=create_app(desk))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as c:
        conv = await start(c)
        publisher.delay_s = 1.0
        assert (await post(c, conv)).status_code == 503
    assert publisher.on(RAW_CHAT) == []


@pytest.mark.parametrize("origin", ["https://evil.example", "https://shop.example.evil.com", None])
async def test_wrong_or_missing_origin_is_403_and_nothing_published(
        client: httpx.AsyncClient, publisher: MemoryPublisher, origin: str | None) -> None:
    conv = await start(client)
    headers = {"Authorization": f"Bearer {conv['visitor_token']}"}
    if origin:
        headers["Origin"] = origin
    url = f"/v1/sites/acme/conversations/{conv['conversation_id']}/messages"
    r = await client.post(url, json={"message_id": "m1", "text": "hi"}, headers=headers)
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    assert r.json()["error"]["code"] in ("origin-not-allowed", "origin-required")
    pre = await client.options(url, headers={**headers, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 403
    assert publisher.published == []


async def test_preflight_allows_the_site_origin(client: httpx.AsyncClient) -> None:
    r = await client.options("/v1/sites/acme/conversations",
                             headers={**H, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "Authorization" in r.headers["access-control-allow-headers"]


async def test_self_origin_is_the_service_itself(
        publisher: MemoryPublisher, clock: ManualClock) -> None:
    desk = ChatDesk(chat_settings(public_url="http://chat.test/chat"), b"k" * 32, publisher,
                    clock=clock)
    transport = httpx.ASGITransport(app=create_app(desk), client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as c:
        r = await c.post("/v1/sites/acme/conversations", json={},
                         headers={"Origin": "http://chat.test"})
        assert r.status_code == 201


async def test_self_origin_never_comes_from_the_requests_host(
        client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    # A page on evil.example (or a DNS-rebinding name pointing here) sends a Host and an
    # Origin that match each other; "self" must not take the Host's word for it.
    for url in ("http://evil.example", "http://chat.test"):
        r = await client.post("/v1/sites/acme/conversations", json={},
                              headers={"Origin": url, "Host": url.split("//")[1]})
        assert r.status_code == 403, url
        pre = await client.options("/v1/sites/acme/conversations", headers={
            "Origin": url, "Host": url.split("//")[1], "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers
    assert publisher.published == []


def test_own_origins_are_the_public_url_and_the_bound_address() -> None:
    assert own_origins(chat_settings()) == frozenset()
    assert own_origins(chat_settings(public_url="https://Chat.Acme.example/x")) == {
        "https://chat.acme.example"}
    loop = own_origins(chat_settings(host="127.0.0.1"), 8085)
    assert {"http://127.0.0.1:8085", "http://localhost:8085", "http://[::1]:8085"} == loop
    assert own_origins(chat_settings(host="10.1.2.3"), 80) == {"http://10.1.2.3:80"}


async def test_oversized_body_is_413_and_long_text_422(
        client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    conv = await start(client)
    big = await post(client, conv, text="x" * 5000)
    assert big.status_code == 413 and big.json()["error"]["code"] == "body-too-large"
    long = await post(client, conv, text="x" * 501)
    assert long.status_code == 422 and long.json()["error"]["field"] == "text"
    assert publisher.published == []


async def test_forged_identity_is_refused_and_a_proven_one_travels(
        client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    r = await client.post("/v1/sites/acme/conversations", headers=H, json={
        "identifier": "alice@example.com",
        "identifier_hash": identifier_hash("guessed", "alice@example.com")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "identity-not-proven"
    conv = await start(client, identifier="alice@example.com",
                       identifier_hash=identifier_hash(SECRET, "alice@example.com"))
    assert conv["verified"] is True
    assert (await post(client, conv)).status_code == 202
    assert publisher.on(RAW_CHAT)[0].verified_identifier == "alice@example.com"


async def test_a_site_that_requires_identity_refuses_anonymous_visitors(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/sites/bank/conversations", json={"name": "Eve"}, headers=H)
    assert r.status_code == 401 and r.json()["error"]["code"] == "identity-required"
    conv = await start(client, "bank", identifier="u-9",
                       identifier_hash=identifier_hash("bank-secret", "u-9"))
    assert conv["verified"] is True


async def test_tokens_are_bound_to_their_conversation(
        client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    a, b = await start(client), await start(client)
    r = await post(client, {**a, "visitor_token": b["visitor_token"]})
    assert r.status_code == 403
    r = await post(client, {**a, "visitor_token": a["visitor_token"][:-2] + "xx"})
    assert r.status_code == 401
    assert publisher.published == []


async def test_a_flood_is_429_and_only_accepted_messages_are_published(
        client: httpx.AsyncClient, publisher: MemoryPublisher, clock: ManualClock) -> None:
    conv = await start(client)
    codes = [(await post(client, conv, message_id=f"m{i}")).status_code for i in range(8)]
    assert codes == [202] * 5 + [429] * 3  # visitor burst is 5
    refused = await post(client, conv, message_id="m99")
    assert int(refused.headers["retry-after"]) >= 1
    assert len(publisher.on(RAW_CHAT)) == 5
    clock.advance(1.0)  # 60/min: one token per second
    assert (await post(client, conv, message_id="m100")).status_code == 202


async def test_site_config_and_agent_presence(client: httpx.AsyncClient, desk: ChatDesk) -> None:
    r = await client.get("/v1/sites/team/config", headers=H)
    assert r.json()["online"] is False
    desk.agent_changed(Agent(agent_id="a1", teams=("sales",), presence="online"))
    assert (await client.get("/v1/sites/team/config", headers=H)).json()["online"] is False
    desk.agent_changed(Agent(agent_id="a2", teams=("billing",), presence="online"))
    assert (await client.get("/v1/sites/team/config", headers=H)).json()["online"] is True
    desk.agent_gone("a2")
    assert (await client.get("/v1/sites/team/config", headers=H)).json()["online"] is False
    assert (await client.get("/v1/sites/nope/config", headers=H)).status_code == 404


async def test_widget_and_demo_are_served(client: httpx.AsyncClient) -> None:
    js = await client.get("/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "helpline-chat:" in js.text
    assert (await client.get("/widget.css")).status_code == 200
    demo = await client.get("/demo?site=acme&lang=fr")
    assert 'data-site="acme"' in demo.text and 'lang="fr"' in demo.text


async def test_reads_without_origin_are_same_origin_and_allowed(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/sites/acme/config")
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    bad = await client.get("/v1/sites/acme/config", headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403


async def test_a_site_that_requires_an_email_gets_one(
        client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    conv = await start(client, "strict")
    config = (await client.get("/v1/sites/strict/config", headers=H)).json()
    assert config["require_email"] is True and config["pre_chat_fields"] == ["email"]
    r = await post(client, conv, "strict")
    assert r.status_code == 422 and r.json()["error"]["field"] == "email"
    assert publisher.published == []
    assert (await post(client, conv, "strict", email="eve@example.com")).status_code == 202
