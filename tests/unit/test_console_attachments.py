"""An attachment is downloaded from the raw mail it came in (read back through the message's
raw_ref), always as a download, and only from a ticket it belongs to."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from pathlib import Path

from console.store import ConsoleStore
from ingest.mime import parse_email
from tests.support.console_builders import AGENTS, Console, client, sign_in
from tests.support.tickets_builders import T0, events_of, feed, make_stage, states_of

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
RAW_REF = "raw.email/0/7"


def _raw() -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "carol@example.com", "support@acme.test", "Logo"
    m["Message-ID"] = "<att-1@mail.example>"
    m.set_content("See the file attached.")
    m.add_attachment(SVG, maintype="image", subtype="svg+xml", filename="logo é.svg")
    return m.as_bytes()


def _console() -> tuple[Console, list[str]]:
    raw = _raw()
    msg = dataclasses.replace(parse_email(raw, mailbox="support", received_at=T0),
                              raw_ref=RAW_REF)
    outs = feed(make_stage(), [msg])
    store = ConsoleStore()
    for key, ticket in states_of(outs).items():
        store.apply_state(key, ticket)
    for e in events_of(outs):
        store.apply_event(e)
    store.apply_message(msg)
    for a in AGENTS:
        store.apply_agent(a.agent_id, a)
    fetched: list[str] = []
    console = Console(store)

    async def fetch_raw(ref: str) -> bytes:
        fetched.append(ref)
        return raw

    console.fetch_raw = fetch_raw
    return console, fetched


def test_an_attachment_downloads_from_the_raw_mail(tmp_path: Path) -> None:
    console, fetched = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    t = next(iter(console.store.view.tickets()))
    page = c.get(f"/tickets/{t.number}").text
    [m] = console.store.view.conversation(t.ticket_id)
    [att] = m.attachments
    url = f"/tickets/{t.number}/attachments/{m.message_id}/{att.sha256}"
    assert f'href="{url}" download' in page
    r = c.get(url)
    assert r.status_code == 200 and r.content == SVG and fetched == [RAW_REF]
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith('attachment; filename="logo _.svg"')
    assert "filename*=UTF-8''logo%20%C3%A9.svg" in r.headers["content-disposition"]
    assert c.get(f"/tickets/{t.number}/attachments/{m.message_id}/{'0' * 64}").status_code == 404
    assert c.get(f"/tickets/nope/attachments/{m.message_id}/{att.sha256}").status_code == 404
    c.cookies.clear()
    assert c.get(url).status_code == 303  # signed-out: to the sign-in form
