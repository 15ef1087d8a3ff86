"""Settings of the classify stage (the `[classify]` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClassifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Which ruleset of the `rules` table this stage runs (`helpline rules push --name`).
    ruleset_name: str = "default"
    # Trained model directories (`helpline model train --out`); each one's model.json names
    # the ticket field it predicts. Empty: rules only, and the classified event says so.
    # The weights are joblib (pickle): list only directories you trust.
    model_dirs: tuple[str, ...] = ()
    # Team for tickets a model abstained on, when no rule set a team. None: leave unset.
    triage_team: str | None = "Triage"
    # Language detection
    languages: tuple[str, ...] = ("en", "fr", "de", "es", "pt", "it", "nl")
    language_sample_chars: int = Field(default=160, ge=16, le=10_000)
    language_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    language_min_letters: int = Field(default=12, ge=1)
    # First pass: a language wins outright with at least this many of its function words in
    # the sample and this many times as many as any other language has; else lingua decides.
    # 0 turns the first pass off (lingua for every ticket: slower, see benchmarks/README.md).
    language_function_word_min_hits: int = Field(default=4, ge=0)
    language_function_word_ratio: float = Field(default=2.0, ge=1.0)
    # Sentiment: a score at or below this is "negative", at or above the other "positive".
    sentiment_negative_below: float = Field(default=-0.3, ge=-1.0, le=0.0)
    sentiment_positive_above: float = Field(default=0.5, ge=0.0, le=1.0)
    # Limits
    max_text_chars: int = Field(default=20_000, ge=100)  # of a message, for rules and models
    # Tickets whose `created` event is remembered until their first message is classified.
    pending_tickets_max: int = Field(default=100_000, ge=100)
    # Classify every inbound message (create and update triggers), or only a ticket's first.
    classify_follow_ups: bool = True
