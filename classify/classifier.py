"""One ticket's classification, start to finish: language, sentiment, the models, then the
rules (which see the models' answers and may override them). No I/O; time is the message's own
time, so a replay yields the same ``classified`` payload.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from classify.facts import TicketFacts
from classify.language import DetectedLanguage, LanguageDetection
from classify.model import (
    Prediction,
    TicketClassifier,
    nearest_centroids,
    prepare,
    stack_centroids,
)
from classify.rules import PRIORITIES, Outcome, Ruleset
from classify.sentiment import score_folded
from classify.text import fold
from schemas.classify_events import Classified, ModelPrediction
from schemas.ticket_events import Priority

log = logging.getLogger(__name__)

# Priority words operators' historical data uses, mapped onto helpline's four levels.
_PRIORITY_WORDS = {"medium": "normal", "moderate": "normal", "critical": "urgent",
                   "highest": "urgent", "lowest": "low", "p1": "urgent", "p2": "high",
                   "p3": "normal", "p4": "low"}


@dataclass(frozen=True, slots=True)
class ClassifierOptions:
    triage_team: str | None = "Triage"
    sentiment_negative_below: float = -0.3
    sentiment_positive_above: float = 0.5
    max_text_chars: int = 20_000


def as_priority(label: str | None) -> Priority | None:
    if label is None:
        return None
    word = label.strip().lower()
    word = _PRIORITY_WORDS.get(word, word)
    return cast(Priority, word) if word in PRIORITIES else None


class Classifier:
    """Language detector, models and options, applied to batches of tickets."""

    def __init__(self, language: LanguageDetection | None,
                 models: Sequence[TicketClassifier] = (),
                 options: ClassifierOptions = ClassifierOptions()) -> None:
        self.language = language
        self.models = tuple(models)
        self.options = options
        # models trained on the same tickets share one feature matrix, and their centroids
        # one product: (indices into self.models, their stacked centroids) per matrix
        members: dict[tuple[str, int], list[int]] = {}
        for i, m in enumerate(self.models):
            members.setdefault((m.card.features_id or str(id(m)), m.card.max_chars), []).append(i)
        self._shared = [(tuple(group), stack_centroids([self.models[i] for i in group]))
                        for group in members.values()]

    def classify(self, tickets: Sequence[TicketFacts], times: Sequence[datetime],
                 ruleset: Ruleset) -> list[Classified]:
        limit = self.options.max_text_chars
        tickets = [replace(t, body=t.body[:limit]) if len(t.body) > limit else t for t in tickets]
        texts = [f"{t.subject}\n{t.body}" for t in tickets]
        # each ticket's text is folded once, for rules, sentiment and the models
        folds = [_folds(t) for t in tickets]
        # Models read a ticket's first message only: a follow-up ("any news?") says little
        # about what the ticket is, and must not re-route a ticket already being worked on.
        first = [i for i, t in enumerate(tickets) if t.is_new]
        # one batch per model: the vectoriser's cost per call is what batching saves
        prepared: dict[int, list[str]] = {}
        for m in self.models:
            cut = m.card.max_chars
            if cut not in prepared:
                prepared[cut] = [folds[i]["text"] if len(texts[i]) <= cut
                                 else prepare([texts[i]], cut)[0] for i in first]
        status = "applied" if self.models else "absent"
        per_ticket: dict[int, tuple[ModelPrediction, ...]] = {}
        try:
            per_model = self._predict(prepared) if first else []
        except Exception:  # a model that breaks must not stop classification: rules still run
            log.exception("model prediction failed; classifying with rules only",
                          extra={"tickets": len(tickets)})
            per_model, status = [], "failed"
        if per_model:
            for j, i in enumerate(first):
                per_ticket[i] = tuple(_wire(model, preds[j])
                                      for model, preds in zip(self.models, per_model, strict=True))
        # one pass of the language detector over the batch: its tables stay in the CPU caches
        # (~20 % cheaper per ticket than interleaving it with the rules)
        languages = ([self.language.detect(t) for t in texts] if self.language
                     else [None] * len(texts))
        out: list[Classified] = []
        for i, facts in enumerate(tickets):
            ticket_status = status if facts.is_new or status != "applied" else "follow-up"
            out.append(self._one(facts, texts[i], folds[i], languages[i], per_ticket.get(i, ()),
                                 times[i], ruleset, ticket_status))
        return out

    def _predict(self, prepared: dict[int, list[str]]) -> list[list[Prediction]]:
        per_model: list[list[Prediction]] = [[] for _ in self.models]
        for group, stacked in self._shared:
            models = [self.models[i] for i in group]
            matrix = models[0].features.transform(prepared[models[0].card.max_chars])
            scopes = nearest_centroids(matrix, stacked, [m.centroids.shape[0] for m in models])
            for i, m, scope in zip(group, models, scopes, strict=True):
                per_model[i] = m.predict_features(matrix, scope)
        return per_model

    def _one(self, facts: TicketFacts, text: str, folded: dict[str, str],
             detected: DetectedLanguage | None,
             predictions: tuple[ModelPrediction, ...], at: datetime,
             ruleset: Ruleset, model_status: str) -> Classified:
        language = (detected.code if detected else None) or facts.customer.language
        sentiment = score_folded(folded["text"], text, self.options.sentiment_negative_below,
                                 self.options.sentiment_positive_above)
        by_target = {p.target: p for p in predictions}
        main = by_target.get("category") or by_target.get("department")
        priority = by_target.get("priority")
        uncertain = any(p.abstained for p in predictions)
        # the signals reach the rules as field values: no copy of the facts per ticket
        rules = ruleset.evaluate(facts, at, folded, {
            "language": language, "sentiment": sentiment.label,
            "sentiment_score": sentiment.score,
            "model.category": main.label if main else None,
            "model.confidence": main.confidence if main else None,
            "model.uncertain": uncertain,
            "model.priority": priority.label if priority else None,
        })
        return _merge(rules, by_target, predictions, self.options.triage_team, uncertain,
                      language=rules.language or language,
                      language_confidence=round(detected.confidence, 3) if detected else None,
                      sentiment=sentiment.label, sentiment_score=sentiment.score,
                      ruleset_version=ruleset.version, model_status=model_status)


def _folds(facts: TicketFacts) -> dict[str, str]:
    subject, body = fold(facts.subject), fold(facts.body)
    return {"subject": subject, "body": body, "text": f"{subject} {body}".strip()}


def _wire(model: TicketClassifier, p: Prediction) -> ModelPrediction:
    return ModelPrediction(target=model.card.target, label=p.label, best_guess=p.best_guess,
                           confidence=round(p.confidence, 4), abstained=p.abstained,
                           reason=p.reason, model_version=model.card.version)


def _merge(rules: Outcome, by_target: dict[str, ModelPrediction],
           predictions: tuple[ModelPrediction, ...], triage_team: str | None, uncertain: bool,
           **signals: Any) -> Classified:
    """Rules win over models: an operator's explicit rule beats a statistical guess."""

    def model(target: str) -> str | None:
        p = by_target.get(target)
        return p.label if p else None

    main = by_target.get("category") or by_target.get("department")
    team = rules.team or (triage_team if uncertain else None)
    return Classified(
        category=rules.category or model("category"),
        type=rules.type or model("type"),
        priority=as_priority(rules.priority) or as_priority(model("priority")),
        tags=rules.tags,
        department=rules.department or model("department"),
        team=team,
        confidence=main.confidence if main else None,
        uncertain=uncertain,
        assign_to=rules.assign_to,
        sla_policy=rules.sla_policy,
        notify=rules.notify,
        matched_rules=rules.matched,
        model_version=",".join(p.model_version or "" for p in predictions) or None,
        predictions=predictions,
        **signals,
    )
