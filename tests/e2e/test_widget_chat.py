"""End to end in a real browser: Debian's headless Chromium opens the demo page, a visitor
types into the widget, the message lands on raw.chat, the real normalize, tickets and notify
stages (under the real runner) turn it into a ticket and an auto-acknowledgement on
chat.outbound, and the chat service pushes that ack into the open widget; an agent's reply
command on the ticket comes back the same way; after a reload the conversation is still there.
No route stage runs, so notify acks after its SLA wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ingest.chat.settings import ChatSettings, SiteSettings
from schemas.commands import AgentAction
from schemas.events import TicketEvent
from schemas.stage import KafkaConnection
from schemas.ticket_events import Created
from schemas.topics import RAW_CHAT, TICKET_COMMANDS, TICKET_EVENTS
from tests.support.chat_browser import chromium
from tests.support.chat_kafka import topic_now
from tests.support.chat_pipeline import running_stages
from tests.support.chat_service import SIGNING_KEY, running_chat
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

WAIT_S = 60.0
# no route stage here: notify acks once its SLA wait is over
NOTIFY = {"HELPLINE_NOTIFY__SLA_WAIT_S": "0.5", "HELPLINE_NOTIFY__TICK_INTERVAL_S": "0.2"}
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    """Poll until ``probe`` returns something (a wait, not a speed assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.3)


def _settings() -> ChatSettings:
    return ChatSettings(
        sites=(SiteSettings(id="demo", allowed_origins=("self",), availability="online",
                            title="Demo shop"),),
        port=0, sse_heartbeat_s=2.0,
    )


def test_a_visitor_chats_through_the_widget(kafka_conn: KafkaConnection, tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with running_stages(kafka_conn, ("normalize", "tickets", "notify"), SIGNING_KEY, NOTIFY), \
            running_chat(kafka_conn, _settings()) as chat, \
            chromium(tmp_path / "profile") as driver:
        d: Any = driver
        wait = WebDriverWait(d, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))

        def ready() -> None:
            wait.until(lambda _: d.find_element(By.ID, "hl-chat").get_attribute("data-ready"))

        d.get(chat.url + "/demo?site=demo")
        ready()
        launcher = d.find_element(By.ID, "hl-launcher")
        assert launcher.get_attribute("aria-expanded") == "false"
        launcher.click()
        assert launcher.get_attribute("aria-expanded") == "true"
        name = d.switch_to.active_element  # focus moved into the panel's first field
        assert name.get_attribute("name") == "name"
        name.send_keys("Alice Martin")
        d.find_element(By.CSS_SELECTOR, "#hl-prechat [name=email]").send_keys("alice@example.com")
        d.find_element(By.CSS_SELECTOR, "#hl-prechat button[type=submit]").click()
        box = wait.until(lambda _: d.find_element(By.ID, "hl-text"))
        wait.until(lambda _: box.is_displayed())
        box.send_keys("My order A-17 never arrived" + Keys.ENTER)

        # shown as sent only once the broker acknowledged it
        wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "li.hl-visitor")
                   and not d.find_elements(By.CSS_SELECTOR, "li.hl-visitor .hl-state"))
        [raw] = eventually(lambda: topic_now(kafka_conn, RAW_CHAT), "message on raw.chat")
        assert raw.text == "My order A-17 never arrived"
        assert (raw.name, raw.email, raw.site_id) == ("Alice Martin", "alice@example.com", "demo")

        def created() -> TicketEvent | None:
            for event in topic_now(kafka_conn, TICKET_EVENTS):
                if isinstance(event.payload, Created) and \
                        event.payload.conversation_id == raw.conversation_id:
                    return event  # type: ignore[no-any-return]
            return None

        ticket = eventually(created, "ticket created from the chat message")
        assert isinstance(ticket.payload, Created) and ticket.payload.channel == "chat"

        agent = wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "li.hl-agent"))
        assert ticket.ticket_number in agent[0].text  # notify's chat auto-ack names the ticket
        # an agent answers on the ticket (ticket.commands): tickets -> notify -> chat.outbound
        reply = AgentAction(command_id="cmd-e2e-1", ticket_id=ticket.ticket_id, action="reply",
                            agent_id="agent-7", at=datetime.now(UTC),
                            text="Your parcel left our warehouse this morning.")
        asyncio.run(produce(kafka_conn, TICKET_COMMANDS, [(ticket.ticket_id.encode(), reply)]))
        wait.until(lambda _: len(d.find_elements(By.CSS_SELECTOR, "li.hl-agent")) == 2)
        answer = d.find_elements(By.CSS_SELECTOR, "li.hl-agent")[1].text
        assert "Your parcel left our warehouse this morning." in answer
        log = d.find_element(By.ID, "hl-log")
        assert log.get_attribute("aria-live") == "polite" and log.get_attribute("role") == "log"
        d.save_screenshot(str(tmp_path / "widget.png"))

        d.refresh()  # the conversation survives a reload (localStorage) and the ack is kept
        ready()
        def shown() -> list[str]:
            # the three messages as displayed (.text is empty while not visible; the log is
            # re-rendered when the stream's replay comes in, which may stale an element)
            try:
                texts = [li.text for li in d.find_elements(By.CSS_SELECTOR, "#hl-log li")]
            except StaleElementReferenceException:
                return []
            return texts if len(texts) == 3 and all(texts) else []

        texts = wait.until(lambda _: shown())
        assert "My order A-17 never arrived" in texts[0] and ticket.ticket_number in texts[1]
        assert "left our warehouse" in texts[2]

        d.find_element(By.ID, "hl-text").click()
        d.switch_to.active_element.send_keys(Keys.ESCAPE)  # keyboard closes, focus returns
        wait.until(lambda _: d.find_element(By.ID, "hl-launcher")
                   .get_attribute("aria-expanded") == "false")
        assert d.switch_to.active_element.get_attribute("id") == "hl-launcher"
    assert len(topic_now(kafka_conn, RAW_CHAT)) == 1  # one message, however often it was seen
