"""The queue (mine + my teams' unassigned, earliest SLA due first, filters), the ticket page
(conversation with quotes and signatures folded, classification, clocks, audit trail) and
the languages, through the console app over an in-memory store."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from console.conversation import split_message
from console.i18n import EN, FR, negotiate
from console.queue import build_queue
from schemas.directory import Agent
from tests.support.console_builders import Console, client, console_store, csrf_of, sign_in
from tests.support.tickets_builders import T0, email

DUE = T0 + timedelta(hours=1)


def _console() -> Console:
    mails = [
        email("q1", "a@example.com", subject="Late one", text="first"),
        email("q2", "b@example.com", subject="Urgent one", text="second"),
        email("q3", "c@example.com", subject="Other team", text="third"),
        email("q4", "d@example.com", subject="No SLA", text="fourth"),
        email("q5", "e@example.com", subject="Mine later",
              text="Please help\n-- \nEve\nACME Corp\n\nOn Mon, 2 Mar 2026, Support wrote:\n"
                   "> We are looking into it"),
    ]
    return Console(console_store(mails, **{
        "Late one": {"team": "billing", "resolution_due": DUE + timedelta(hours=5)},
        "Urgent one": {"team": "billing", "first_response_due": DUE - timedelta(hours=1),
                       "priority": "urgent"},
        "Other team": {"team": "tech", "first_response_due": DUE},
        "No SLA": {"team": "billing"},
        "Mine later": {"team": "tech", "assignee": "agent-1",
                       "next_response_due": DUE + timedelta(hours=2), "category": "refund"},
    }))


def _numbers_in_order(html: str) -> list[str]:
    return re.findall(r'class="ticket-link" href="/tickets/([^"]+)"', html)


def test_the_queue_is_mine_and_my_teams_unassigned_by_sla_due(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    page = c.get("/queue")
    by_subject = {t.subject: t.number for t in console.store.view.tickets()}
    assert _numbers_in_order(page.text) == [
        by_subject[s] for s in ("Urgent one", "Mine later", "Late one", "No SLA")]
    # the overdue one is flagged, the others count down
    assert re.search(r'class="sla-breached" data-ticket="' + by_subject["Urgent one"], page.text)
    assert "overdue 30m 00s" in page.text and "in 2h 30m" in page.text

    filtered = c.get("/queue?priority=urgent")
    assert _numbers_in_order(filtered.text) == [by_subject["Urgent one"]]
    assert _numbers_in_order(c.get("/queue?category=refund").text) == [by_subject["Mine later"]]
    assert _numbers_in_order(c.get("/queue?channel=chat").text) == []
    # an agent cannot widen the scope; a supervisor can
    assert by_subject["Other team"] not in c.get("/queue?scope=all").text
    sup = client(tmp_path, console)
    sign_in(sup, "sup-1")
    assert by_subject["Other team"] in sup.get("/queue?scope=all").text


def test_queue_rows_show_warnings_before_a_breach() -> None:
    console = _console()
    agent = Agent(agent_id="agent-9", teams=("billing", "tech"))
    rows = build_queue(console.store.view.tickets(), agent, DUE - timedelta(minutes=30), {},
                       warning_s=3600)
    states = {r.ticket.subject: r.sla for r in rows}
    assert states == {"Urgent one": "breached", "Other team": "warning", "Late one": "ok",
                      "No SLA": "none"}


def test_the_ticket_page_folds_quotes_and_signatures_and_shows_the_trail(
        tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    t = next(t for t in console.store.view.tickets() if t.subject == "Mine later")
    page = c.get(f"/tickets/{t.number}")
    assert page.status_code == 200
    html = page.text
    assert '<div class="body">Please help</div>' in html
    assert re.search(r'<details class="signature">.*Eve\nACME Corp', html, re.S)
    assert re.search(r'<details class="quoted">.*We are looking into it', html, re.S)
    assert 'id="history"' in html and ">created<" in html and ">message-added<" in html
    assert "next response" in html  # the SLA clock
    partial = c.get(f"/tickets/{t.number}?partial=1").text
    assert "<html" not in partial and 'id="conversation"' in partial
    assert c.get("/tickets/HL-0000-404404").status_code == 404


def test_every_action_is_queued_under_the_signed_in_agent(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    t = next(t for t in console.store.view.tickets() if t.subject == "Late one")
    csrf = csrf_of(c.get(f"/tickets/{t.number}").text)
    for path, form in (("reply", {"text": "Refund sent", "status": "pending"}),
                       ("note", {"text": "checked the ledger"}),
                       ("status", {"status": "solved"}), ("priority", {"priority": "high"}),
                       ("assign", {"assignee": "agent-1"}), ("escalate", {"reason": "legal"})):
        r = c.post(f"/tickets/{t.number}/{path}", data={**form, "csrf": csrf, "idem": "i1"})
        assert r.status_code == 303, (path, r.text)
    got = [(a.action, a.agent_id, a.text, a.status, a.priority, a.assignee)
           for a in console.submitted]
    assert got == [
        ("reply", "agent-1", "Refund sent", "pending", None, None),
        ("note", "agent-1", "checked the ledger", None, None, None),
        ("set-status", "agent-1", None, "solved", None, None),
        ("set-priority", "agent-1", None, None, "high", None),
        ("assign", "agent-1", None, None, None, "agent-1"),
        ("escalate", "agent-1", None, None, None, None),
    ]
    # the same form submitted twice is the same command (the stage applies it once)
    c.post(f"/tickets/{t.number}/reply", data={"text": "Refund sent", "csrf": csrf,
                                               "idem": "i1"})
    assert console.submitted[-1].command_id == console.submitted[0].command_id
    # each rendering of the page carries its own token: a second reply is a second command
    idems = [re.findall(r'name="idem" value="([^"]+)-reply"', c.get(f"/tickets/{t.number}").text)
             for _ in range(2)]
    assert len(idems[0]) == 1 and idems[0] != idems[1]
    master = next(o for o in console.store.view.tickets() if o.subject == "Urgent one")
    for act in ("merge", "link-master"):
        assert c.post(f"/tickets/{t.number}/{act}",
                      data={"target": master.number, "csrf": csrf}).status_code == 303
        assert (console.submitted[-1].action, console.submitted[-1].target_ticket_id) == (
            act, master.ticket_id)  # the number resolved to the id, as the ticket API does
        assert c.post(f"/tickets/{t.number}/{act}",
                      data={"target": t.number, "csrf": csrf}).status_code == 400
    assert c.post(f"/tickets/{t.number}/bogus", data={"csrf": csrf}).status_code == 404
    bad = c.post(f"/tickets/{t.number}/status", data={"status": "bogus", "csrf": csrf})
    assert bad.status_code == 400 and "unknown status" in bad.text


@pytest.mark.parametrize(("header", "lang"), [
    ("fr-FR,fr;q=0.9,en;q=0.8", "fr"), ("en-GB,en;q=0.9,fr;q=0.5", "en"),
    ("de-DE,fr;q=0.4", "fr"), ("de", "en"), ("", "en"), ("fr;q=0, en", "en"),
])
def test_the_language_follows_accept_language(header: str, lang: str) -> None:
    assert negotiate(header) == lang


def test_pages_in_french(tmp_path: Path) -> None:
    c = client(tmp_path, _console())
    c.headers["Accept-Language"] = "fr-FR,fr;q=0.9"
    assert "Se connecter" in c.get("/login").text
    sign_in(c, "agent-1")
    page = c.get("/queue")
    assert '<html lang="fr">' in page.text and "Ma file" in page.text
    assert page.headers["content-language"] == "fr"


def test_both_catalogues_have_the_same_keys() -> None:
    assert set(EN) == set(FR)


@pytest.mark.parametrize(("text", "body", "quoted", "signature"), [
    ("Hi\n-- \nBob", "Hi", "", "-- \nBob"),
    ("Bonjour\n\nLe 3 mars 2026 à 10:00, Alice a écrit :\n> salut", "Bonjour",
     "Le 3 mars 2026 à 10:00, Alice a écrit :\n> salut", ""),
    ("Answer\n> old\n> older", "Answer", "> old\n> older", ""),
    ("Inline\n> quote\nreply below", "Inline\n> quote\nreply below", "", ""),
    ("Thanks\nSent from my iPhone", "Thanks", "", "Sent from my iPhone"),
])
def test_messages_split_into_body_quote_and_signature(
        text: str, body: str, quoted: str, signature: str) -> None:
    parts = split_message(text)
    assert (parts.body, parts.quoted, parts.signature) == (body, quoted, signature)


def test_the_ticket_page_explains_the_classification(tmp_path: Path) -> None:
    from schemas.classify_events import Classified, ModelPrediction, RuleMatch
    from schemas.events import Actor, TicketEvent

    console = _console()
    t = next(t for t in console.store.view.tickets() if t.subject == "Late one")
    console.store.apply_event(TicketEvent(
        event_id="cls-1", ticket_id=t.ticket_id, ticket_number=t.number,
        at=T0 + timedelta(minutes=1), actor=Actor(kind="rule", id="default"),
        payload=Classified(
            category="billing", team="billing", language="en",
            matched_rules=(RuleMatch(rule_id="r7", name="refund words",
                                     reasons=("subject contains 'refund'",)),),
            predictions=(ModelPrediction(target="category", label="billing",
                                         confidence=0.87, model_version="m-3"),
                         ModelPrediction(target="priority", abstained=True,
                                         reason="low-confidence", best_guess="high",
                                         confidence=0.41)),
            model_version="m-3")))
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    html = c.get(f"/tickets/{t.number}").text
    assert "<strong>refund words</strong>" in html
    assert "subject contains &#39;refund&#39;" in html
    assert "category: billing — confidence 87%" in html
    assert "priority: abstained (low-confidence, high) — confidence 41%" in html
