"""Acks that add up: the SLA calendar computes the due time and the same calendar's hours and
closed days are quoted next to it, in the customer's language and time zone.

Each ``tests/golden/notify/acks/<case>.input.json`` holds a routing configuration (calendar,
SLA policy), when the message arrived, its language and channel; ``<case>.expected.json`` the
due time and what the customer reads. The chain is the real one: route's policy and calendar
(``route.clocks``) → the ``sla-applied`` event → notify's ack policy → the composer.
Regenerate after a deliberate wording change with ``HELPLINE_REGEN_GOLDEN=1`` and review the
diff.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from notify.ack_policy import Acknowledge, AckPolicy, decide, on_event
from notify.compose import Composer
from notify.render import BUNDLED, load_templates
from notify.settings import MailboxIdentity, NotifySettings
from notify.stage import token_maker
from route import clocks
from route.settings import RouteSettings, routing_config
from schemas.events import SYSTEM, TicketEvent
from schemas.route_events import RouteTicketState, SlaApplied
from tests.support.notify_builders import KEY, created, message

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "notify" / "acks"
CASES = sorted(p.name.removesuffix(".input.json") for p in GOLDEN.glob("*.input.json"))
TEMPLATES = load_templates(BUNDLED)


def sla_applied(case: dict[str, Any], at: datetime) -> SlaApplied:
    cfg = routing_config(RouteSettings.model_validate(case["routing"]))
    state = RouteTicketState(ticket_id="t000777", number="HL-2026-000777", channel=case["channel"],
                             created_at=at, updated_at=at)
    state = clocks.apply_policy(state, cfg, at)
    applied = clocks.applied(state, cfg, at)
    assert applied is not None
    return applied


def ack_for(case: dict[str, Any]) -> dict[str, Any]:
    at = datetime.fromisoformat(case["received_at"])
    applied = sla_applied(case, at)
    tid, channel, lang = "t000777", case["channel"], case["language"]
    events = [
        created(tid, channel=channel, language=lang, at=at, name="Camille",
                requester="camille@example.org", subject="Commande 1234 / Order 1234"),
        message(tid, channel=channel, language=lang, at=at, author="camille@example.org",
                text="Ma commande 1234 n'est pas arrivée. / My order 1234 has not arrived."),
        TicketEvent(event_id="sla", ticket_id=tid, ticket_number="HL-2026-000777", at=at,
                    actor=SYSTEM, payload=applied),
    ]
    draft = None
    for e in events:
        draft = on_event(draft, e)
    assert draft is not None
    policy = AckPolicy(own_addresses=frozenset(), sla_wait=timedelta(seconds=20),
                       max_age=timedelta(days=1), summary_chars=300)
    decision = decide(draft, at, policy)
    assert isinstance(decision, Acknowledge), decision
    settings = NotifySettings(mailboxes={"acme": MailboxIdentity(
        address="support@acme.test", display_name="ACME Support",
        timezone=case.get("customer_timezone"))})
    composer = Composer(TEMPLATES, settings, token_maker(KEY))
    n = decision.notification
    due = applied.first_response_due
    out: dict[str, Any] = {"first_response_due": due.isoformat() if due else None}
    if channel == "chat":
        out["chat"] = composer.chat(n, at).text
    else:
        mail = composer.email(n, at).parsed()
        out["subject"] = str(mail["Subject"])
        body = mail.get_body(("plain",))
        assert body is not None
        out["text"] = body.get_content().replace("\r\n", "\n")
    return out


@pytest.mark.parametrize("case", CASES)
def test_golden_ack(case: str) -> None:
    given = orjson.loads((GOLDEN / f"{case}.input.json").read_bytes())
    got = ack_for(given)
    expected_path = GOLDEN / f"{case}.expected.json"
    if os.environ.get("HELPLINE_REGEN_GOLDEN"):
        expected_path.write_bytes(orjson.dumps(got, option=orjson.OPT_INDENT_2) + b"\n")
    assert got == orjson.loads(expected_path.read_bytes())


def test_the_cases_cover_the_week_and_a_holiday() -> None:
    assert {"fr-weekday-morning", "fr-friday-evening", "fr-sunday-3am-chat", "fr-christmas",
            "en-weekday-morning", "en-friday-evening", "en-sunday-3am",
            "en-christmas"} <= set(CASES)


def test_the_demo_configuration_promises_in_business_hours() -> None:
    # `helpline dev` shows a new user an ack whose due time and hours come from an office
    # calendar, not a 24x7 promise at 3 a.m. on a Sunday
    from route.calendar import TWENTY_FOUR_SEVEN
    from route.settings import read_routing_file
    from route.sla import calendar_of
    from runtime.dev import DEMO

    demo = read_routing_file(DEMO / "routing.toml")
    cfg = routing_config(RouteSettings.model_validate(demo.model_dump()))
    for policy in cfg.sla_policies:
        cal = calendar_of(policy, cfg.calendars)
        assert cal is not TWENTY_FOUR_SEVEN and not cal.always_open, policy.name
    case = {"routing": demo.model_dump(), "received_at": "2026-12-06T03:00:00+01:00",
            "language": "fr", "channel": "chat"}
    chat = ack_for(case)["chat"]
    assert "lundi 7 décembre 2026 à 13 h (CET)" in chat
    assert "du lundi au vendredi, 9 h – 18 h" in chat
