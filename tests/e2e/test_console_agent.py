"""End to end in Debian's headless Chromium against the real stack: the tickets, classify,
route and notify stages on a real Apache Kafka broker, `helpline console` as a process, and
an SMTP sink. An agent signs in, sees the queue in SLA order, opens a ticket with the
keyboard and replies; the reply shows up live on the page and reaches the customer through
the SMTP sink threaded on the customer's mail (In-Reply-To, the ticket number in the
subject), and the event log records it under the agent's id. Screenshots are kept in
tests/e2e/artifacts/."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from schemas.directory import Agent
from schemas.events import TicketEvent
from schemas.stage import KafkaConnection
from schemas.ticket_events import MessageAdded
from schemas.topics import AGENTS, MESSAGES, TICKET_EVENTS
from tests.support.chat_browser import chromium
from tests.support.chat_kafka import topic_now
from tests.support.chat_pipeline import running_stages
from tests.support.console_process import (
    ARTIFACTS,
    console_env,
    running_console,
    set_password,
)
from tests.support.kafka import produce
from tests.support.notify_sink import SmtpSink
from tests.support.tickets_builders import email, mid

pytestmark = pytest.mark.integration

WAIT_S = 90.0
PASSWORD = "e2e password 123"
SIGNING_KEY = b"e" * 32
REPLY = "Your refund was sent this morning; it shows within 3 days."
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.3)


def test_an_agent_signs_in_works_the_queue_and_replies(
        kafka_conn: KafkaConnection, tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # offline: route queues the tickets for the team instead of assigning them
    ann = Agent(agent_id="agent-1", name="Ann Agent", teams=("support",), presence="offline")
    asyncio.run(produce(kafka_conn, AGENTS, [(b"agent-1", ann)]))
    now = datetime.now(UTC).replace(microsecond=0)
    # the later-received mail is written first: SLA order is not arrival order on the topic
    later = email("e2e-later", "zoe@example.com", subject="Question about my plan",
                  text="Can I change my plan?", at=now - timedelta(minutes=2))
    first = email("e2e-first", "dana@example.com", subject="Refund not received",
                  text="Where is my refund?\n-- \nDana\n\nOn Mon, support wrote:\n> Hello",
                  at=now - timedelta(minutes=20))
    env = console_env(kafka_conn, tmp_path)
    set_password(env, "agent-1", PASSWORD)

    with SmtpSink() as sink:
        stage_env = {"HELPLINE_NOTIFY__SMTP__PORT": str(sink.port),
                     "HELPLINE_NOTIFY__TICK_INTERVAL_S": "0.2",
                     "HELPLINE_ROUTE__TICK_INTERVAL_S": "0.2",
                     "HELPLINE_ROUTE__CLASSIFY_WAIT_SECONDS": "1"}
        with running_stages(kafka_conn, ("tickets", "classify", "route", "notify"),
                            SIGNING_KEY, stage_env), running_console(env) as console, \
                chromium(tmp_path / "profile") as driver:
            asyncio.run(produce(kafka_conn, MESSAGES, [(later.partition_key, later),
                                                       (first.partition_key, first)]))
            d: Any = driver
            # the console re-renders its live parts: an element read may go stale
            wait = WebDriverWait(d, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
            d.get(console.url + "/queue")
            assert "/login" in d.current_url  # not signed in: sent to the sign-in form
            d.find_element(By.ID, "agent").send_keys("agent-1")
            d.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
            wait.until(lambda _: d.current_url.endswith("/queue"))

            def rows_with_due() -> list[tuple[str, str, str]]:
                # both tickets queued for the team with their SLA due (live: no reload); read
                # in one go, as the table is re-rendered when something changes
                rows = [(r.get_attribute("data-ticket"),
                         r.find_element(By.CSS_SELECTOR, ".countdown").get_attribute("data-due"),
                         r.text)
                        for r in d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
                        if r.find_elements(By.CSS_SELECTOR, ".countdown[data-due]")]
                return rows if len(rows) == 2 else []

            rows = wait.until(lambda _: rows_with_due())
            dues = [due for _, due, _ in rows]
            assert dues == sorted(dues) and dues[0] != dues[1]
            assert "Refund not received" in rows[0][2]  # the older one is due first
            number = rows[0][0]
            # a new ticket appears in the open queue by itself (the page is not reloaded)
            d.execute_script("window.__sameQueuePage = true")
            newest = email("e2e-newest", "yann@example.com", subject="Login fails",
                           text="I cannot log in", at=now)
            asyncio.run(produce(kafka_conn, MESSAGES, [(newest.partition_key, newest)]))
            wait.until(lambda _: len(d.find_elements(
                By.CSS_SELECTOR, "table.queue .countdown[data-due]")) == 3)
            assert d.execute_script("return window.__sameQueuePage") is True
            d.save_screenshot(str(ARTIFACTS / "console-queue.png"))

            # keyboard: j selects the first row, Enter opens it
            # (keys go to whatever has focus, as a person's would: the table may be re-rendered
            # between two key presses, and the console keeps the selected row focused)
            ActionChains(d).send_keys("j").perform()
            wait.until(lambda _: d.switch_to.active_element.text == number)
            ActionChains(d).send_keys(Keys.ENTER).perform()
            wait.until(lambda _: d.find_elements(By.ID, "reply-text"))
            assert d.find_element(By.CSS_SELECTOR, ".msg .body").text == "Where is my refund?"
            assert d.find_element(By.CSS_SELECTOR, "details.quoted").get_attribute("open") is None
            # keyboard again: r goes to the reply box, Ctrl+Enter sends
            ActionChains(d).send_keys("r").perform()
            box = d.switch_to.active_element
            assert box.get_attribute("id") == "reply-text"
            box.send_keys(REPLY)
            box.send_keys(Keys.CONTROL, Keys.ENTER)
            wait.until(lambda _: d.find_elements(By.ID, "done"))
            # the reply comes back through the pipeline and appears without a reload
            wait.until(lambda _: any(REPLY in m.text for m in d.find_elements(
                By.CSS_SELECTOR, ".msg.outbound")))
            d.save_screenshot(str(ARTIFACTS / "console-ticket.png"))

            def replied() -> Any:
                return next((m for m in sink.received
                             if REPLY in (m.message.get_body(("plain",)) or
                                          m.message).get_content()), None)

            mail = eventually(replied, "the reply at the SMTP sink")
            to_dana = [m.message_id for m in sink.received if m.rcpt_tos == ["dana@example.com"]]
    assert mail.rcpt_tos == ["dana@example.com"]
    assert number in str(mail.message["Subject"])
    # threaded: it answers the thread's latest message -- the customer's mail, or our
    # auto-acknowledgement of it when that went out first -- and references the customer's
    in_reply_to = str(mail.message["In-Reply-To"]).strip()
    references = str(mail.message["References"]).split()
    assert mid("e2e-first") in references and in_reply_to in references
    assert in_reply_to in (mid("e2e-first"), *to_dana[:-1])
    replies = [e for e in topic_now(kafka_conn, TICKET_EVENTS)
               if isinstance(e, TicketEvent) and isinstance(e.payload, MessageAdded)
               and e.payload.direction == "outbound" and e.payload.text == REPLY]
    assert [(e.actor.kind, e.actor.id, e.ticket_number) for e in replies] == [
        ("agent", "agent-1", number)]
