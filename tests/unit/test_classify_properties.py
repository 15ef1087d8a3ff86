"""Properties: no rules file text makes the loader raise, no ticket makes the engine raise,
and rule evaluation is a pure function of facts and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from classify.facts import CustomerFacts, TicketFacts
from classify.rules_loader import load_rules
from classify.sentiment import score_sentiment

EXAMPLE = (Path(__file__).resolve().parents[2] / "classify" / "examples" / "rules.toml").read_text()
RULESET = load_rules(EXAMPLE).ruleset
assert RULESET is not None

facts = st.builds(
    TicketFacts,
    subject=st.text(max_size=80), body=st.text(max_size=400),
    sender=st.text(max_size=40), channel=st.sampled_from(["email", "chat", "api", ""]),
    customer=st.builds(CustomerFacts, tier=st.none() | st.text(max_size=10),
                       title=st.none() | st.text(max_size=10)),
    language=st.none() | st.sampled_from(["fr", "en"]),
    sentiment=st.none() | st.sampled_from(["negative", "neutral", "positive"]),
    sentiment_score=st.none() | st.floats(-1, 1),
    attachments=st.lists(st.text(max_size=12), max_size=3).map(tuple),
    exchanges=st.integers(0, 50), is_new=st.booleans(),
    tags=st.lists(st.text(max_size=8), max_size=3).map(tuple),
    model_uncertain=st.booleans(),
    created_at=st.none() | st.datetimes(min_value=datetime(2020, 1, 1),
                                        max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                       timezones=st.just(UTC))


@settings(max_examples=200)
@given(facts, moments)
def test_the_engine_never_raises_and_is_deterministic(ticket: TicketFacts, now: datetime) -> None:
    assert RULESET is not None
    first = RULESET.evaluate(ticket, now)
    assert first == RULESET.evaluate(ticket, now)
    assert all(m.reasons for m in first.matched)
    assert first.priority in (None, "low", "normal", "high", "urgent")


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_text_is_either_a_ruleset_or_a_list_of_errors(source: str) -> None:
    checked = load_rules(source)
    assert (checked.ruleset is None) == bool(checked.errors)


@settings(max_examples=200)
@given(st.sampled_from(EXAMPLE.splitlines()), st.integers(0, 80), st.text(max_size=5))
def test_damaged_example_files_never_raise(line: str, cut: int, junk: str) -> None:
    damaged = EXAMPLE.replace(line, line[:cut] + junk + line[cut:], 1)
    checked = load_rules(damaged)
    for error in checked.errors:
        assert error.line is None or 1 <= error.line <= len(damaged.splitlines()) + 1


@given(st.text(max_size=500))
def test_sentiment_is_bounded(text: str) -> None:
    result = score_sentiment(text)
    assert -1.0 <= result.score <= 1.0


def test_time_moves_only_what_depends_on_time() -> None:
    assert RULESET is not None
    ticket = TicketFacts(subject="urgent: outage", channel="email")
    day = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 10:00 in Paris, open
    night = day + timedelta(hours=13)
    assert RULESET.evaluate(ticket, day).assign_to is None
    assert RULESET.evaluate(ticket, night).assign_to == "role:on-call"


@given(st.text(alphabet=st.sampled_from("ab z09'-_.!\n\tAZéü€"), max_size=60)
       | st.text(max_size=60))
def test_sentiment_words_are_the_regex_runs_of_letters_and_digits(text: str) -> None:
    import re

    from classify.sentiment import words_of

    assert words_of(text) == re.findall(r"[a-z0-9]+", text.replace("'", ""))


def _phrase_soup() -> st.SearchStrategy[str]:
    from classify.sentiment import _PHRASES

    pieces = sorted({w for p in _PHRASES for w in p.split(" ")} | set(_PHRASES))
    piece = st.sampled_from(pieces) | st.text(alphabet="abcdelmnopstu'", max_size=4)
    return st.lists(piece, max_size=8).flatmap(
        lambda words: st.sampled_from([" ", "", "'"]).map(lambda sep: sep.join(words)))


@given(_phrase_soup() | st.text(alphabet=st.sampled_from("abcdefilmnoprstuw '"), max_size=40))
def test_sentiment_phrase_filter_is_the_substring_test(text: str) -> None:
    from classify.sentiment import _MULTI_WORD, _ONE_WORD, _PHRASES

    quick = bool(_MULTI_WORD.search(text)) or any(p in text for p in _ONE_WORD)
    assert quick == any(p in text for p in _PHRASES)
