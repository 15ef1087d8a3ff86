"""A console app over an in-memory store, for tests without a broker: tickets made by the real
tickets stage from inbound mail, agents in the directory, passwords in a temporary file, and
the queued actions collected in a list."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from console.app import build_app
from console.passwords import PasswordFile, hash_password
from console.settings import ConsoleSettings
from console.store import ConsoleStore
from schemas.commands import AgentAction
from schemas.directory import Agent
from schemas.message import InboundMessage
from tests.support.tickets_builders import T0, events_of, feed, make_stage, states_of

KEY = b"s" * 32
PASSWORD = "correct horse battery"
_HASHED: dict[str, str] = {}
AGENTS = (
    Agent(agent_id="agent-1", name="Ann Agent", teams=("billing",), presence="online"),
    Agent(agent_id="agent-2", name="Bob Agent", teams=("tech",)),
    Agent(agent_id="sup-1", name="Sue Supervisor", teams=("billing",), roles=("supervisor",)),
    Agent(agent_id="adm-1", name="Al Admin", roles=("admin",)),
)


@dataclass
class Console:
    store: ConsoleStore
    submitted: list[AgentAction] = field(default_factory=list)
    presence: list[tuple[str, str]] = field(default_factory=list)
    fetch_raw: Any = None  # raw_ref -> raw mail bytes (async), for attachment downloads
    now: datetime = T0 + timedelta(minutes=30)


def console_store(messages: Sequence[InboundMessage], **ticket_fields: dict[str, Any]
                  ) -> ConsoleStore:
    """The store after the tickets stage made tickets of ``messages``; ``ticket_fields`` maps a
    subject to fields set on that ticket's state (team, due times: what route would add)."""
    outs = feed(make_stage(), messages)
    store = ConsoleStore()
    for key, ticket in states_of(outs).items():
        store.apply_state(key, dataclasses.replace(ticket, **ticket_fields.get(ticket.subject,
                                                                               {})))
    for e in events_of(outs):
        store.apply_event(e)
    for a in AGENTS:
        store.apply_agent(a.agent_id, a)
    return store


def client(tmp_path: Path, console: Console, base_url: str = "http://testserver",
           **settings: Any) -> TestClient:
    passwords = PasswordFile(tmp_path / "passwords.json")
    if not passwords.path.exists():
        _HASHED.setdefault("hash", hash_password(PASSWORD))  # argon2 is slow on purpose: once
        passwords.path.write_text(json.dumps({a.agent_id: _HASHED["hash"] for a in AGENTS}))

    async def submit(cmd: AgentAction) -> None:
        console.submitted.append(cmd)

    async def set_presence(agent_id: str, presence: str) -> None:
        console.presence.append((agent_id, presence))

    app = build_app(console.store, passwords, ConsoleSettings(**settings), KEY, submit,
                    set_presence=set_presence,  # type: ignore[arg-type]
                    fetch_raw=console.fetch_raw,
                    clock=lambda: console.now, allowed_hosts=["testserver"])
    return TestClient(app, base_url=base_url, follow_redirects=False)


def sign_in(c: TestClient, agent_id: str, password: str = PASSWORD) -> Any:
    form = c.get("/login")
    pre = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert pre is not None
    return c.post("/login", data={"csrf": pre.group(1), "agent": agent_id,
                                  "password": password, "next": "/queue"})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)
