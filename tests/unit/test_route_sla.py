"""SLA policies and clocks: selection by conditions, pause in pending/on-hold, reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from route.calendar import TWENTY_FOUR_SEVEN, calendar_from_days
from route.config import RoutingConfig
from route.engine import Router
from route.sla import (
    PolicyFacts,
    SlaPolicy,
    meet_clock,
    pause_clock,
    reopen_clock,
    resume_clock,
    retarget_clock,
    select_policy,
    start_clock,
)
from schemas.events import TicketEvent
from schemas.route_events import SlaApplied
from tests.support.route_builders import T0, at, classified, created, inbound, reply, status

H = timedelta(hours=1)
OFFICE = calendar_from_days("office", "UTC", {d: "09:00-17:00" for d in
                                             ("mon", "tue", "wed", "thu", "fri")})
POLICIES = (
    SlaPolicy("vip-urgent", first_response=timedelta(minutes=15), resolution=2 * H,
              priorities=frozenset({"urgent"}), customer_tiers=frozenset({"vip"})),
    SlaPolicy("chat", first_response=timedelta(minutes=2), channels=frozenset({"chat"})),
    SlaPolicy("billing", first_response=2 * H, categories=frozenset({"billing"})),
    SlaPolicy("default", first_response=4 * H, next_response=8 * H, resolution=24 * H),
)


def test_first_matching_policy_wins() -> None:
    assert select_policy(POLICIES, PolicyFacts("urgent", "vip")).name == "vip-urgent"  # type: ignore[union-attr]
    assert select_policy(POLICIES, PolicyFacts("urgent", None)).name == "default"  # type: ignore[union-attr]
    assert select_policy(POLICIES, PolicyFacts(channel="chat")).name == "chat"  # type: ignore[union-attr]
    assert select_policy(POLICIES, PolicyFacts(category="billing")).name == "billing"  # type: ignore[union-attr]


def test_policy_named_by_a_rule_wins_over_conditions() -> None:
    chosen = select_policy(POLICIES, PolicyFacts(channel="chat"), requested="billing")
    assert chosen is not None and chosen.name == "billing"
    fallback = select_policy(POLICIES, PolicyFacts(channel="chat"), requested="nope")
    assert fallback is not None and fallback.name == "chat"


def test_no_policy_matches() -> None:
    assert select_policy(POLICIES[:1], PolicyFacts()) is None


def test_pause_moves_due_by_paused_business_time() -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)  # Monday
    clock = start_clock(OFFICE, "resolution", 4 * H, start)
    assert clock.due_at == start + 4 * H
    paused = pause_clock(OFFICE, clock, start + H)
    assert paused.due_at is None and paused.elapsed_s == 3600
    resumed = resume_clock(OFFICE, paused, datetime(2026, 3, 3, 9, tzinfo=UTC))
    assert resumed.due_at == datetime(2026, 3, 3, 12, tzinfo=UTC)


def test_pause_over_night_counts_only_business_hours() -> None:
    clock = start_clock(OFFICE, "resolution", 4 * H, datetime(2026, 3, 2, 15, tzinfo=UTC))
    paused = pause_clock(OFFICE, clock, datetime(2026, 3, 3, 10, tzinfo=UTC))
    assert paused.elapsed_s == 3 * 3600  # 15-17 Monday + 9-10 Tuesday


def test_met_clock_stays_met() -> None:
    clock = meet_clock(start_clock(TWENTY_FOUR_SEVEN, "first-response", H, T0), at(10))
    assert clock.due_at is None
    assert pause_clock(TWENTY_FOUR_SEVEN, clock, at(20)) == clock
    assert resume_clock(TWENTY_FOUR_SEVEN, clock, at(30)) == clock


def test_reopen_continues_with_banked_time() -> None:
    clock = start_clock(TWENTY_FOUR_SEVEN, "resolution", 10 * H, T0)
    solved = meet_clock(clock, T0 + 4 * H)
    reopened = reopen_clock(TWENTY_FOUR_SEVEN, solved, T0 + 24 * H)
    assert reopened.elapsed_s == 4 * 3600
    assert reopened.due_at == T0 + 30 * H


def test_retarget_keeps_start() -> None:
    clock = start_clock(TWENTY_FOUR_SEVEN, "first-response", 4 * H, T0)
    assert retarget_clock(TWENTY_FOUR_SEVEN, clock, H).due_at == T0 + H


@settings(max_examples=100, deadline=None)
@given(pause_at=st.integers(0, 600), pause_for=st.integers(0, 3000))
def test_pausing_never_brings_a_due_time_forward(pause_at: int, pause_for: int) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    clock = start_clock(OFFICE, "resolution", 8 * H, start)
    p = pause_clock(OFFICE, clock, start + timedelta(minutes=pause_at))
    r = resume_clock(OFFICE, p, start + timedelta(minutes=pause_at + pause_for))
    assert r.due_at is not None and clock.due_at is not None and r.due_at >= clock.due_at


# --- through the router: what a ticket's events do to its clocks --------------------------


def _router() -> Router:
    # classify_wait=0: no classifier to wait for, so the SLA is announced at creation (with a
    # wait, it is announced once classified: see test_route_engine).
    return Router(RoutingConfig(sla_policies=POLICIES, classify_wait=timedelta(0)))


def _applied(out: list[object]) -> list[SlaApplied]:
    return [e.payload for e in out if isinstance(e, TicketEvent)
            and isinstance(e.payload, SlaApplied)]


def test_sla_applied_on_creation_with_first_response_due() -> None:
    r = _router()
    (applied,) = _applied(r.handle(created("t1"), T0))
    assert applied.policy == "default"
    assert applied.first_response_due == T0 + 4 * H
    assert applied.resolution_due == T0 + 24 * H


def test_classification_changes_policy_and_due() -> None:
    r = _router()
    r.handle(created("t1"), T0)
    (applied,) = _applied(r.handle(classified("t1", at(1), category="billing"), at(1)))
    assert applied.policy == "billing" and applied.first_response_due == T0 + 2 * H


def test_pending_pauses_and_open_resumes_resolution() -> None:
    r = _router()
    r.handle(created("t1"), T0)
    out = r.handle(status("t1", "new", "pending", T0 + 2 * H), T0 + 2 * H)
    assert _applied(out) == []  # pausing is not a new deadline
    out = r.handle(status("t1", "pending", "open", T0 + 12 * H), T0 + 12 * H)
    (applied,) = _applied(out)
    assert applied.resolution_due == T0 + 34 * H  # 10 paused hours later


def test_next_response_clock_starts_with_each_customer_message_after_a_reply() -> None:
    r = _router()
    r.handle(created("t1"), T0)
    r.handle(inbound("t1", T0), T0)
    r.handle(reply("t1", T0 + H), T0 + H)
    (applied,) = _applied(r.handle(inbound("t1", T0 + 2 * H), T0 + 2 * H))
    assert applied.next_response_due == T0 + 10 * H
    assert applied.first_response_due is None
    r.handle(reply("t1", T0 + 3 * H), T0 + 3 * H)
    (again,) = _applied(r.handle(inbound("t1", T0 + 5 * H), T0 + 5 * H))
    assert again.next_response_due == T0 + 13 * H


def test_solved_stops_and_reopen_resumes() -> None:
    r = _router()
    r.handle(created("t1"), T0)
    r.handle(status("t1", "new", "solved", T0 + 4 * H), T0 + 4 * H)
    (applied,) = _applied(r.handle(status("t1", "solved", "open", T0 + 30 * H), T0 + 30 * H))
    assert applied.resolution_due == T0 + 50 * H  # 20 hours left of 24


def test_business_hours_policy_across_dst_weekend_holiday_and_pause() -> None:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    office = calendar_from_days("paris", "Europe/Paris",
                                {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
                                holiday_country="FR")
    policy = SlaPolicy("office", first_response=4 * H, resolution=16 * H, calendar="paris")
    r = Router(RoutingConfig(sla_policies=(policy,), calendars={"paris": office},
                             classify_wait=timedelta(0)))
    start = datetime(2026, 3, 27, 16, tzinfo=paris)  # Friday, CET; DST begins on Sunday
    (applied,) = _applied(r.handle(created("t1", start), start))
    # 1 h on Friday, 3 h on Monday (now CEST)
    assert applied.first_response_due == datetime(2026, 3, 30, 12, tzinfo=paris)
    # resolution: 1 h Fri + 8 h Mon + 7 h Tue -> Tue 16:00
    assert applied.resolution_due == datetime(2026, 3, 31, 16, tzinfo=paris)
    # pending from Monday 10:00 to Friday 3 April 10:00: 2 business hours used, 14 left
    r.handle(status("t1", "new", "pending", datetime(2026, 3, 30, 10, tzinfo=paris)),
             datetime(2026, 3, 30, 10, tzinfo=paris))
    (resumed,) = _applied(r.handle(
        status("t1", "pending", "open", datetime(2026, 4, 3, 10, tzinfo=paris)),
        datetime(2026, 4, 3, 10, tzinfo=paris)))
    # Fri 10-17 (7 h), Easter Monday 6 April is a public holiday, Tue 9-16 (7 h)
    assert resumed.resolution_due == datetime(2026, 4, 7, 16, tzinfo=paris)
