"""The notify stage: auto-acks from ticket events, alerts and replies from the outbox.

Reads ``ticket.events`` (new tickets, their first message, ``sla-applied``, bounces) and
``notify.outbox`` (escalation / SLA / supervisor alerts from the route stage, agent replies from
the tickets stage); its table is ``notify.sentlog`` (see :mod:`notify.sentlog` for how that makes
every send happen once in effect). Sends through ports (SMTP pool, webhooks); emits results,
``ack-sent`` events, chat replies.

``process`` and ``tick`` are coroutines: the runner awaits them (I/O stage).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from notify.ack_policy import (
    AckDraft,
    AckPolicy,
    Refuse,
    Wait,
    ack_notification_id,
    build_ack,
    decide,
    on_event,
)
from notify.alerts import ALERT_KINDS, AlertDigests, digest_of
from notify.compose import Composer
from notify.dispatch import NOTIFIER, Dispatcher, ack_sent
from notify.loop_guard import RecipientCaps, ack_refusal
from notify.render import BUNDLED, load_templates
from notify.sentlog import KafkaJournal, SentLog, SentLogJournal
from notify.settings import NotifySettings
from notify.smtp import SmtpPool
from notify.transport import MailTransport, WebhookPoster
from schemas import reply_token
from schemas.events import DeliveryFailed, TicketEvent
from schemas.message import MessageFlags
from schemas.notification import DELIVERED_IN_CHAT, Notification, NotificationResult
from schemas.stage import NO_METER, In, Meter, Out, Stage, StageContext
from schemas.topics import NOTIFY_OUTBOX, NOTIFY_SENTLOG, STAGE_TOPICS, TICKET_EVENTS, TopicSpec

log = logging.getLogger("helpline.notify")

# Refusals that say nothing new (no result record): the ack exists, or history is replayed.
_SILENT_REFUSALS = frozenset({"already-acknowledged", "too-old"})


class NotifyStage(Stage):
    name = "notify"
    inputs: tuple[TopicSpec, ...] = STAGE_TOPICS["notify"].inputs
    tables: tuple[TopicSpec, ...] = STAGE_TOPICS["notify"].tables

    def __init__(
        self, settings: NotifySettings, dispatcher: Dispatcher, sentlog: SentLog
    ) -> None:
        self.settings = settings
        self.tick_interval: float | None = settings.tick_interval_s
        self.sentlog = sentlog
        self.dispatch = dispatcher
        own = {settings.default_mailbox.address, *settings.own_addresses}
        own.update(m.address for m in settings.mailboxes.values())
        self.policy = AckPolicy(
            own_addresses=frozenset(own),
            sla_wait=timedelta(seconds=settings.sla_wait_s),
            max_age=timedelta(seconds=settings.max_ack_age_s),
            summary_chars=settings.summary_chars,
            enabled=settings.auto_ack,
            mailbox_enabled=lambda name: settings.mailbox(name).auto_ack,
        )
        self.caps = RecipientCaps(settings.recipient_cap, settings.recipient_window_s)
        self.digests = AlertDigests(
            settings.alert_burst, settings.alert_window_s,
            groups={"assignment": (settings.assignment_burst, settings.assignment_window_s)})
        self.drafts: dict[str, AckDraft] = {}
        self.waiting: dict[str, datetime] = {}  # ticket id -> when its wait for the SLA ends
        self._recovered = False
        self._timers: asyncio.Task[list[Out]] | None = None
        self._slimmed_at: datetime | None = None

    # -- state from the sent-log -------------------------------------------------------------

    def restore(self, topic: TopicSpec, key: bytes, value: Any | None) -> None:
        if topic is not NOTIFY_SENTLOG or not isinstance(value, NotificationResult):
            return
        # our own writes come back here while running: they must not count twice
        known = value.notification_id in self.sentlog.finals
        self.sentlog.apply(value)
        n = value.notification
        if known:
            return
        if value.phase == "final":
            self.digests.release([value.notification_id])
            if value.outcome == "sent" and n is not None and n.kind == "auto-ack" and n.recipient:
                self.caps.record(n.recipient.address, value.at.timestamp())
        elif value.phase == "deferred" and n is not None and n.kind in ALERT_KINDS:
            self.digests.hold(n, value.at.timestamp())

    async def _recover(self, now: datetime) -> list[Out]:
        """Once, after the table was restored: finish what a previous worker left open."""
        self._recovered = True
        in_doubt = self.sentlog.in_doubt()
        if in_doubt:
            log.warning("in-doubt sends found after restart", extra={
                "stage": "notify", "count": len(in_doubt), "rule": self.settings.in_doubt})
        if self.settings.in_doubt == "skip":
            gave_up = [
                self.dispatch.result(r.notification, "failed", now, attempts=r.attempts,
                                     detail="in-doubt: worker stopped during the send",
                                     message_id=r.message_id)
                for r in in_doubt if r.notification is not None
            ]
            return await self.dispatch.finish(gave_up, now, publish=True)
        return await self.dispatch.deliver(
            [(r.notification, r.attempts) for r in in_doubt if r.notification is not None], now,
            publish=True, resend=True,
        )

    # -- input -------------------------------------------------------------------------------

    async def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        outs: list[Out] = [] if self._recovered else await self._recover(now)
        touched: dict[str, None] = {}
        replayed: set[str] = set()
        outbox: list[Notification] = []
        bounces: list[NotificationResult] = []
        for rec in batch:
            if rec.topic is NOTIFY_OUTBOX and isinstance(rec.value, Notification):
                outbox.append(rec.value)
            elif rec.topic is TICKET_EVENTS and isinstance(rec.value, TicketEvent):
                outs += self._redelivered(rec.value, replayed, now)
                bounce = self._on_ticket_event(rec.value, now)
                if bounce is not None:
                    bounces.append(bounce)
                if rec.value.ticket_id in self.drafts:
                    touched[rec.value.ticket_id] = None
        if bounces:
            await self.dispatch.journal.write(bounces)
            for b in bounces:
                self.sentlog.apply(b)
        outs += await self._decide_acks(list(touched), now)
        outs += await self._handle_outbox(outbox, now)
        return outs

    def _redelivered(self, event: TicketEvent, replayed: set[str], now: datetime) -> list[Out]:
        """An event older than its ticket's sent ack may be a redelivery of the batch that
        caused the ack (the worker died before the runner committed it): the ack is done.
        A sent ack's follow-ups were made durable before its final record, so nothing is
        emitted again (the ack-sent event stays once in the log); an older final without
        them (a failed or suppressed ack) has its records re-emitted, with the same ids."""
        tid = event.ticket_id
        if tid in replayed:
            return []
        done = self.sentlog.final(ack_notification_id(tid))
        if done is None or event.at > done.at or event.actor == NOTIFIER:
            return []
        replayed.add(tid)
        self._forget(tid)
        return [] if ack_sent(done) else self.dispatch.followups(done, now)

    def _on_ticket_event(self, event: TicketEvent, now: datetime) -> NotificationResult | None:
        p = event.payload
        if isinstance(p, DeliveryFailed) and p.permanent and p.recipient:
            return NotificationResult(
                notification_id=f"bounce:{event.event_id}", ticket_id=event.ticket_id,
                outcome="suppressed", at=event.at, phase="hard-bounce", recipient=p.recipient,
                detail=(p.status or "") + " " + (p.diagnostic or "")[:200],
            )
        if event.actor == NOTIFIER and event.ticket_id not in self.drafts:
            return None  # our own ack-sent coming back
        draft = on_event(self.drafts.get(event.ticket_id), event)
        if draft is not None:
            if draft.first_message is not None and draft.seen_at is None:
                draft = replace(draft, seen_at=now)
            self.drafts[event.ticket_id] = draft
        return None

    async def _decide_acks(
        self, ticket_ids: list[str], now: datetime, publish: bool = False
    ) -> list[Out]:
        send: list[tuple[Notification, int]] = []
        refused: list[tuple[Notification, str]] = []
        deferred: list[NotificationResult] = []
        outs: list[Out] = []
        for tid in ticket_ids:
            draft = self.drafts.get(tid)
            if draft is None:  # decided meanwhile by the timer task
                continue
            nid = ack_notification_id(tid)
            if self.sentlog.final(nid) is not None:  # follow-ups: see _redelivered
                self._forget(tid)
                continue
            decision = decide(draft, now, self.policy, self.sentlog.bounced)
            if isinstance(decision, Wait):
                if decision.until is not None and tid not in self.waiting:
                    self.waiting[tid] = decision.until
                    # the ack as it would go out if no SLA came: survives a restart
                    n = build_ack(draft, self.policy)
                    deferred.append(self.dispatch.result(n, "retrying", now, phase="deferred",
                                                         attempts=0))
                continue
            self._forget(tid)
            if isinstance(decision, Refuse):
                if decision.reason not in _SILENT_REFUSALS and draft.first_message is not None:
                    refused.append((build_ack(draft, self.policy), decision.reason))
                continue
            n = decision.notification
            if n.channel == "email" and n.recipient is not None:
                if not self.caps.allows(n.recipient.address, now.timestamp()):
                    refused.append((n, "recipient-cap"))
                    continue
                self.caps.record(n.recipient.address, now.timestamp())
            send.append((n, 0))
        if deferred:
            await self.dispatch.journal.write(deferred)
            for r in deferred:
                self.sentlog.apply(r)
        if publish and outs:
            await self.dispatch.journal.publish(outs)
            outs = []
        outs += await self.dispatch.suppress(refused, now, publish)
        outs += await self.dispatch.deliver(send, now, publish)
        return outs

    def _forget(self, ticket_id: str) -> None:
        self.drafts.pop(ticket_id, None)
        self.waiting.pop(ticket_id, None)

    async def _handle_outbox(self, notifications: list[Notification], now: datetime) -> list[Out]:
        send: list[tuple[Notification, int]] = []
        refused: list[tuple[Notification, str]] = []
        held: list[NotificationResult] = []
        outs: list[Out] = []
        for n in notifications:
            done = self.sentlog.final(n.notification_id)
            if done is not None and done.outcome != "failed":
                if not ack_sent(done):  # a sent ack's follow-ups are durable already
                    outs += self.dispatch.followups(done, now)
                continue
            if n.notification_id in self.sentlog.open:
                continue  # already in flight or held
            if n.context.get("via") == DELIVERED_IN_CHAT:
                # a chat replica's receipt: the visitor saw the reply in the widget, so the
                # fallback email another replica may decide later (same id) is never sent
                refused.append((n, "delivered-in-chat"))
                continue
            if n.kind == "auto-ack" and n.channel == "email" and n.recipient is not None:
                reason = ack_refusal(n.recipient.address, _NO_FLAGS, self.policy.own_addresses,
                                     suppressed=self.sentlog.bounced)
                if reason is not None:
                    refused.append((n, reason))
                    continue
            if n.kind in ALERT_KINDS and not self.digests.admit(n, now.timestamp()):
                held.append(self.dispatch.result(n, "retrying", now, phase="deferred",
                                                 attempts=0, detail="held for digest"))
                continue
            send.append((n, 0))
        if held:
            await self.dispatch.journal.write(held)
            for r in held:
                self.sentlog.apply(r)
        outs += await self.dispatch.suppress(refused, now)
        outs += await self.dispatch.deliver(send, now)
        return outs

    # -- timers ------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Out]:
        """Start the timer work in the background and return at once. Timer sends are not
        tied to an input batch, so they publish their own follow-up records (through the
        journal) before their final sent-log record; nothing is left for the runner."""
        if self._timers is None or self._timers.done():
            if self._timers is not None and not self._timers.cancelled():
                self._timers.result()  # surface a failure of the previous round
            self._timers = asyncio.get_running_loop().create_task(self.run_timers(now))
        return []

    async def drain(self) -> None:
        """Let the timer work under way finish (graceful shutdown; a kill is covered by the
        sent-log, this only avoids needless in-doubt resends)."""
        if self._timers is not None:
            await asyncio.gather(self._timers, return_exceptions=True)
        await self.dispatch.close()

    async def run_timers(self, now: datetime) -> list[Out]:
        """Everything time-driven: SLA waits over, retries due, digest windows closed.
        Publishes its outputs itself; returns nothing left to produce."""
        outs: list[Out] = [] if self._recovered else await self._recover(now)
        due = [tid for tid, until in self.waiting.items() if until <= now]
        for tid in due:
            self.waiting.pop(tid, None)
        outs += await self._decide_acks([t for t in due if t in self.drafts], now, True)
        outs += await self._recovered_deferrals(now)
        retry = [nid for nid, at in self.dispatch.retry_at.items() if at <= now]
        items = []
        for nid in retry:
            del self.dispatch.retry_at[nid]
            r = self.sentlog.open.get(nid)
            if r is not None and r.notification is not None:
                items.append((r.notification, r.attempts))
        outs += await self.dispatch.deliver(items, now, publish=True)
        for held in self.digests.due(now.timestamp()):
            digest = digest_of(held, now)
            did = digest.notification_id
            if did not in self.sentlog.finals and did not in self.sentlog.open:
                outs += await self.dispatch.deliver([(digest, 0)], now, publish=True)
            # the held alerts are now represented by the digest (whose intent is durable and
            # whose own result says how it went)
            finals = [self.dispatch.result(n, "sent", now, detail=f"digested into {did}")
                      for n in held]
            outs += await self.dispatch.finish(finals, now, publish=True)
        self._prune(now)
        return outs

    async def _recovered_deferrals(self, now: datetime) -> list[Out]:
        """Deferred acks restored from the sent-log whose ticket events were already committed
        by the previous worker: send them once their wait is over (generic promise)."""
        items = []
        for r in self.sentlog.deferred():
            n = r.notification
            if n is None or n.kind != "auto-ack" or n.ticket_id in self.drafts:
                continue
            if r.at + self.policy.sla_wait <= now:
                items.append((n, 0))
        return await self.dispatch.deliver(items, now, publish=True)

    def _prune(self, now: datetime) -> None:
        oldest = now - self.policy.max_age
        for tid in [t for t, d in self.drafts.items() if d.created_at < oldest]:
            self._forget(tid)
        self.caps.forget_before(now.timestamp())
        if self._slimmed_at is None or now - self._slimmed_at >= self.policy.max_age / 24:
            self.sentlog.slim_before(now - 2 * self.policy.max_age)
            self._slimmed_at = now


_NO_FLAGS = MessageFlags()


# -- factory ---------------------------------------------------------------------------------


def token_maker(key: bytes) -> Callable[[str], str | None]:
    """The signed reply token for a ticket (None for an id the tickets stage did not mint)."""

    def make(ticket_id: str) -> str | None:
        try:
            return str(reply_token.make(ticket_id, key))
        except ValueError:  # not a ticket id the tickets stage minted
            return None

    return make


def build(
    settings: NotifySettings, *, transport: MailTransport, webhooks: WebhookPoster | None,
    journal: SentLogJournal, signing_key: bytes, meter: Meter = NO_METER,
) -> NotifyStage:
    roots = [BUNDLED] + ([Path(settings.templates_dir)] if settings.templates_dir else [])
    sentlog = SentLog()
    composer = Composer(load_templates(*roots), settings, token_maker(signing_key))
    dispatcher = Dispatcher(settings=settings, composer=composer, transport=transport,
                            webhooks=webhooks, journal=journal, sentlog=sentlog, meter=meter)
    return NotifyStage(settings, dispatcher, sentlog)


def build_stage(ctx: StageContext) -> NotifyStage:
    from notify.webhooks import HttpxWebhooks

    settings: NotifySettings = ctx.section("notify")
    return build(
        settings,
        transport=SmtpPool(settings.smtp),
        webhooks=HttpxWebhooks(settings.webhook_timeout_s) if settings.webhooks else None,
        journal=KafkaJournal(ctx.kafka, linger_ms=settings.sentlog_linger_ms,
                             timeout_s=settings.sentlog_timeout_s),
        signing_key=ctx.signing_key,
        meter=ctx.meter,
    )
