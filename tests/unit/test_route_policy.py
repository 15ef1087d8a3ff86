"""Assignment strategies: round-robin, least-loaded, skills with fallback, sticky, capacity,
presence, shifts and tiers."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime

from route.model import AgentView, Team, capacity_of, working_calendar
from route.policy import Need, choose_agent
from tests.support.route_builders import T0, agent, shift


def view(a, load: int = 0, channel: str = "email") -> AgentView:  # type: ignore[no-untyped-def]
    return AgentView(a, Counter({channel: load}) if load else Counter(),
                     working_calendar(a.working_hours))


def need(**kw) -> Need:  # type: ignore[no-untyped-def]
    return Need(**{"ticket_id": "t", "channel": "email", **kw})


def pick(team: Team, views: list[AgentView], n: Need | None = None, **kw) -> str | None:  # type: ignore[no-untyped-def]
    d = choose_agent(team, n or need(), views, T0, default_capacity=5, **kw)
    return d.agent_id if d else None


def test_least_loaded_takes_lowest_load_ratio() -> None:
    team = Team("support")
    views = [view(agent("a1", capacity=4), 2), view(agent("a2", capacity=2), 0),
             view(agent("a3", capacity=10), 4)]
    assert pick(team, views) == "a2"
    views[1] = view(agent("a2", capacity=2), 1)  # 1/2 vs 2/4 vs 4/10
    assert pick(team, views) == "a3"


def test_round_robin_rotates_in_agent_order() -> None:
    team = Team("support", strategy="round-robin")
    views = [view(agent(a)) for a in ("a2", "a1", "a3")]
    assert pick(team, views) == "a1"
    assert pick(team, views, last_round_robin="a1") == "a2"
    assert pick(team, views, last_round_robin="a3") == "a1"


def test_full_offline_away_and_other_team_agents_are_skipped() -> None:
    team = Team("support")
    views = [view(agent("full", capacity=1), 1), view(agent("off", presence="offline")),
             view(agent("away", presence="away")), view(agent("other", teams=("sales",)))]
    assert pick(team, views) is None
    views.append(view(agent("ok")))
    assert pick(team, views) == "ok"


def test_capacity_is_per_channel() -> None:
    a = dataclasses.replace(agent("a1"), capacity={"chat": 1, "email": 5})
    assert capacity_of(a, "chat", 9) == 1 and capacity_of(a, "api", 9) == 9
    busy_on_chat = AgentView(a, Counter({"chat": 1}))
    assert pick(Team("support"), [busy_on_chat], need(channel="chat")) is None
    assert pick(Team("support"), [busy_on_chat], need(channel="email")) == "a1"


def test_agent_off_shift_takes_nothing() -> None:
    a = agent("paris", working_hours=shift("Europe/Paris", ("09:00", "17:00")))
    team = Team("support")
    at_night = datetime(2026, 3, 2, 22, tzinfo=UTC)
    assert choose_agent(team, need(), [view(a)], at_night, default_capacity=5) is None
    assert choose_agent(team, need(), [view(a)], T0, default_capacity=5) is not None


def test_skills_match_prefers_full_cover_then_falls_back() -> None:
    team = Team("support", match_skills=True)
    views = [view(agent("generalist")), view(agent("billing", skills=("billing",))),
             view(agent("both", skills=("billing", "refund")), 1)]
    d = choose_agent(team, need(skills=frozenset({"billing", "refund", "urgent"})), views, T0,
                     default_capacity=5)
    assert d is not None and (d.agent_id, d.strategy) == ("both", "skills")
    views[2] = view(agent("both", skills=("billing", "refund"), capacity=1), 1)  # now full
    d = choose_agent(team, need(skills=frozenset({"billing", "refund"})), views, T0,
                     default_capacity=5)
    assert d is not None and (d.agent_id, d.strategy) == ("billing", "skills-fallback")


def test_unknown_skills_do_not_filter() -> None:
    team = Team("support", match_skills=True)
    d = choose_agent(team, need(skills=frozenset({"nobody-has-this"})),
                     [view(agent("a1"))], T0, default_capacity=5)
    assert d is not None and d.agent_id == "a1"


def test_sticky_prefers_previous_agent_when_available() -> None:
    team = Team("support", sticky=True)
    views = [view(agent("a1")), view(agent("a2"), 1)]
    d = choose_agent(team, need(previous_agent="a2"), views, T0, default_capacity=5)
    assert d is not None and (d.agent_id, d.strategy) == ("a2", "sticky")
    views[1] = view(agent("a2", presence="offline"))
    assert pick(team, views, need(previous_agent="a2")) == "a1"


def test_language_preference() -> None:
    views = [view(agent("en", languages=("en",))), view(agent("fr", languages=("fr",)), 1)]
    assert pick(Team("support"), views, need(language="fr")) == "fr"
    assert pick(Team("support", prefer_language=False), views, need(language="fr")) == "en"


def test_tier_is_required_where_the_team_has_that_tier() -> None:
    views = [view(agent("l1")), view(agent("l2", tier="L2"), 1)]
    assert pick(Team("support"), views, need(tier="L2")) == "l2"
    # nobody of L3 in the team: tier is not a hard requirement then
    assert pick(Team("support"), views, need(tier="L3")) == "l1"


def test_passed_over_agent_is_avoided_unless_alone() -> None:
    views = [view(agent("a1")), view(agent("a2"), 1)]
    assert pick(Team("support"), views, need(passed_over=frozenset({"a1"}))) == "a2"
    assert pick(Team("support"), views[:1], need(passed_over=frozenset({"a1"}))) == "a1"
