"""SLA policies and clocks: which policy applies, when each target is due, pause and resume.

Pure: every function takes the time it acts at. A clock counts business time in its policy's
calendar; pausing (pending / on-hold) banks the elapsed business time, resuming restarts the
count from the resume instant, so the due time moves by exactly the paused business time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from route.calendar import TWENTY_FOUR_SEVEN, BusinessCalendar, add_business_time
from route.calendar import business_time_between as _between
from schemas.route_events import SlaClock, SlaMetric

METRICS: tuple[SlaMetric, ...] = ("first-response", "next-response", "resolution")


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """What a policy's conditions look at."""

    priority: str = "normal"
    customer_tier: str | None = None
    channel: str = "email"
    category: str | None = None


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets for one kind of ticket. Empty condition sets match anything; the first policy
    whose conditions all match is applied (order them from most to least specific)."""

    name: str
    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    calendar: str = "24x7"
    warn_before: timedelta = timedelta(minutes=30)
    priorities: frozenset[str] = frozenset()
    customer_tiers: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    pause_statuses: frozenset[str] = frozenset({"pending", "on-hold"})

    def matches(self, facts: PolicyFacts) -> bool:
        return (
            (not self.priorities or facts.priority in self.priorities)
            and (not self.customer_tiers or facts.customer_tier in self.customer_tiers)
            and (not self.channels or facts.channel in self.channels)
            and (not self.categories or facts.category in self.categories)
        )

    def target(self, metric: SlaMetric) -> timedelta | None:
        if metric == "first-response":
            return self.first_response
        if metric == "next-response":
            return self.next_response
        if metric == "resolution":
            return self.resolution
        return None


def select_policy(
    policies: Sequence[SlaPolicy], facts: PolicyFacts, requested: str | None = None
) -> SlaPolicy | None:
    """The policy named by a rule if it exists, else the first whose conditions match."""
    if requested:
        for p in policies:
            if p.name == requested:
                return p
    for p in policies:
        if p.matches(facts):
            return p
    return None


def calendar_of(policy: SlaPolicy, calendars: Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    return calendars.get(policy.calendar, TWENTY_FOUR_SEVEN)


# ---------------------------------------------------------------------------------------------
# clocks


def _due(cal: BusinessCalendar, clock: SlaClock) -> datetime | None:
    if clock.running_since is None or clock.met_at is not None:
        return None
    remaining = timedelta(seconds=max(0.0, clock.target_s - clock.elapsed_s))
    return add_business_time(cal, clock.running_since, remaining)


def start_clock(
    cal: BusinessCalendar, metric: SlaMetric, target: timedelta, at: datetime, cycle: int = 0
) -> SlaClock:
    clock = SlaClock(metric=metric, target_s=target.total_seconds(), cycle=cycle, running_since=at)
    return dataclasses.replace(clock, due_at=_due(cal, clock))


def pause_clock(cal: BusinessCalendar, clock: SlaClock, at: datetime) -> SlaClock:
    if clock.running_since is None or clock.met_at is not None:
        return clock
    spent = _between(cal, clock.running_since, at).total_seconds()
    return dataclasses.replace(
        clock, elapsed_s=clock.elapsed_s + spent, running_since=None, due_at=None
    )


def resume_clock(cal: BusinessCalendar, clock: SlaClock, at: datetime) -> SlaClock:
    if clock.running_since is not None or clock.met_at is not None:
        return clock
    running = dataclasses.replace(clock, running_since=at)
    return dataclasses.replace(running, due_at=_due(cal, running))


def meet_clock(clock: SlaClock, at: datetime) -> SlaClock:
    """The target was met (or the metric stopped, e.g. the ticket was solved)."""
    if clock.met_at is not None:
        return clock
    return dataclasses.replace(clock, met_at=at, due_at=None)


def reopen_clock(cal: BusinessCalendar, clock: SlaClock, at: datetime) -> SlaClock:
    """A solved ticket reopened: the resolution clock continues with its banked time."""
    if clock.met_at is None:
        return clock
    bank = clock.elapsed_s
    if clock.running_since is not None:
        bank += _between(cal, clock.running_since, clock.met_at).total_seconds()
    running = dataclasses.replace(clock, met_at=None, elapsed_s=bank, running_since=at)
    return dataclasses.replace(running, due_at=_due(cal, running))


def retarget_clock(cal: BusinessCalendar, clock: SlaClock, target: timedelta) -> SlaClock:
    """Another policy now applies: same start and banked time, new target."""
    # warned / breached stay as they were: a breach already reported is not reported again
    changed = dataclasses.replace(clock, target_s=target.total_seconds())
    return dataclasses.replace(changed, due_at=_due(cal, changed))


def clock_for(clocks: Iterable[SlaClock], metric: SlaMetric) -> SlaClock | None:
    found = None
    for c in clocks:
        if c.metric == metric and (found is None or c.cycle >= found.cycle):
            found = c
    return found


def replace_clock(clocks: tuple[SlaClock, ...], new: SlaClock) -> tuple[SlaClock, ...]:
    """Keep one clock per metric: the newest cycle."""
    return (*(c for c in clocks if c.metric != new.metric), new)


def warn_at(clock: SlaClock, policy: SlaPolicy) -> datetime | None:
    if clock.due_at is None or clock.warned or clock.breached:
        return None
    return clock.due_at - policy.warn_before


def earliest_due(clocks: Iterable[SlaClock]) -> datetime | None:
    dues = [c.due_at for c in clocks if c.due_at is not None and not c.breached]
    return min(dues) if dues else None
