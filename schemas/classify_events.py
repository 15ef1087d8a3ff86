"""The ``classified`` event payload. Owned by the classify stage."""

from __future__ import annotations

from typing import ClassVar

from schemas.base import Extra, extra_field, record
from schemas.ticket_events import Priority


@record
class RuleMatch:
    rule_id: str
    name: str = ""
    reasons: tuple[str, ...] = ()  # why it matched, one line per condition, for humans


@record
class ModelPrediction:
    """What one trained model said, kept even when it abstained (for triage screens)."""

    target: str  # the ticket field it predicts: category, department, priority, type
    label: str | None = None  # None when abstained
    best_guess: str | None = None
    confidence: float = 0.0
    abstained: bool = False
    reason: str = ""  # "low-confidence" / "out-of-scope" when abstained
    model_version: str | None = None


@record
class Classified:
    TAG: ClassVar[str] = "classified"
    category: str | None = None
    type: str | None = None
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    department: str | None = None
    team: str | None = None
    language: str | None = None
    sentiment: str | None = None  # negative / neutral / positive
    sentiment_score: float | None = None
    confidence: float | None = None  # the model's, for category
    uncertain: bool = False  # model abstained: triage queue or rule default applies
    assign_to: str | None = None  # agent id or "role:<name>"
    sla_policy: str | None = None
    notify: tuple[str, ...] = ()
    matched_rules: tuple[RuleMatch, ...] = ()
    ruleset_version: str | None = None
    model_version: str | None = None
    # "applied"; "absent" when no model is configured (rules only); "failed" if it raised;
    # "follow-up": a later message of the ticket, which models do not re-classify
    model_status: str | None = None
    predictions: tuple[ModelPrediction, ...] = ()
    language_confidence: float | None = None
    extra: Extra = extra_field()
