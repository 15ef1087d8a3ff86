"""The route stage: ``ticket.events`` in; ``assigned``, ``queued``, ``escalated``,
``sla-applied``, ``sla-warning``, ``sla-breached`` (and ``unassigned`` on reclaim) back onto
``ticket.events``; alerts onto ``notify.outbox``; its per-ticket state onto the compacted
``route.state`` table, which is restored at start-up together with ``agents`` and ``customers``.

The shell only dispatches; decisions are :class:`route.engine.Router`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from route.config import RoutingConfig
from route.engine import Emission, Router
from route.settings import RouteSettings, routing_config
from schemas.directory import Agent, CustomerRecord
from schemas.events import TicketEvent
from schemas.notification import Notification
from schemas.route_events import RouteTicketState
from schemas.stage import In, Out, Stage, StageContext
from schemas.topics import (
    AGENTS,
    CUSTOMERS,
    NOTIFY_OUTBOX,
    ROUTE_STATE,
    STAGE_TOPICS,
    TICKET_EVENTS,
    TopicSpec,
)


class RouteStage(Stage):
    name = "route"
    inputs: tuple[TopicSpec, ...] = STAGE_TOPICS["route"].inputs
    tables: tuple[TopicSpec, ...] = STAGE_TOPICS["route"].tables
    # Agent capacity, queues and SLA timers are global: one active replica, the others warm
    # standbys following route.state (runtime.group); only the active one fires timers.
    single_writer = True
    own_tables: tuple[TopicSpec, ...] = (ROUTE_STATE,)  # nobody else writes it

    def __init__(
        self,
        cfg: RoutingConfig,
        tick_interval: float = 1.0,
        catchup_lag: timedelta = timedelta(seconds=60),
        catchup_idle: timedelta = timedelta(seconds=5),
    ) -> None:
        self.router = Router(cfg)
        self.tick_interval: float | None = tick_interval
        self.catchup_lag = catchup_lag
        self.catchup_idle = catchup_idle
        self.watermark: datetime | None = None  # latest event time processed
        self.last_input: datetime | None = None  # clock time of the latest input batch

    def restore(self, topic: TopicSpec, key: bytes, value: Any | None) -> None:
        ident = key.decode("utf-8", "replace")
        if topic.name == ROUTE_STATE.name:
            if value is None or isinstance(value, RouteTicketState):
                self.router.restore(value, ident)
        elif topic.name == AGENTS.name:
            if value is None or isinstance(value, Agent):
                self.router.set_agent(ident, value)
        elif topic.name == CUSTOMERS.name and (value is None or isinstance(value, CustomerRecord)):
            self.router.set_customer(ident, value)

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        emitted: list[Emission] = []
        decided: list[tuple[str, list[Emission]]] = []
        for record in batch:
            if isinstance(record.value, TicketEvent):
                try:
                    out = self.router.handle(record.value, now)
                except Exception:
                    # the runner retries the batch record by record: the records decided
                    # before this one hand their outputs out then
                    for event_id, kept in decided:
                        self.router.unsent[event_id] = kept
                    raise
                decided.append((record.value.event_id, out))
                emitted += out
                at = record.value.at
                self.watermark = at if self.watermark is None else max(self.watermark, at)
        if batch:
            self.last_input = now
        return self._outs(emitted)

    def timer_time(self, now: datetime) -> datetime:
        """The clock timers run on: the input's event time while catching up on a backlog,
        the wall clock otherwise (live, or idle)."""
        if self.watermark is None or self.last_input is None:
            return now
        catching_up = (now - self.last_input < self.catchup_idle
                       and now - self.watermark > self.catchup_lag)
        return self.watermark if catching_up else now

    def tick(self, now: datetime) -> list[Out]:
        return self._outs(self.router.tick(self.timer_time(now)))

    def _outs(self, emitted: list[Emission]) -> list[Out]:
        outs = []
        for e in self.router.take_carry() + emitted:
            if isinstance(e, TicketEvent):
                outs.append(Out(TICKET_EVENTS, e.ticket_id.encode(), e))
            elif isinstance(e, Notification):
                outs.append(Out(NOTIFY_OUTBOX, e.ticket_id.encode(), e))
        # state after the events it accounts for: a crash in between re-derives the same ids
        outs += [Out(ROUTE_STATE, key.encode(), s) for key, s in self.router.take_changed()]
        return outs


def build_stage(ctx: StageContext) -> RouteStage:
    settings: RouteSettings = ctx.section("route")
    return RouteStage(
        routing_config(settings),
        settings.tick_interval_s,
        catchup_lag=timedelta(seconds=settings.catchup_lag_s),
        catchup_idle=timedelta(seconds=settings.catchup_idle_s),
    )
