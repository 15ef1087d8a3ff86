"""Which models a classify worker runs, and how they change while it runs.

Models come from ``[classify] model_dirs`` at start (trusted local directories) and from the
``models`` topic (signed, verified by :class:`classify.model_topic.ModelShelf`). Each has a
slot name (a pushed model's ``--name``, a directory model's target): a pushed model replaces
the one in its slot, a refused one leaves the slot as it was and its reason in
:attr:`ModelSlots.errors`. A model pushed ``--shadow`` runs beside the active ones without
acting: the stage classifies each batch once more with it swapped in and counts what would
have changed (:attr:`ModelSlots.shadow_counts`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from classify.classifier import Classifier
from classify.model import TicketClassifier
from classify.model_topic import ModelRefused, ModelShelf
from schemas.classify_events import Classified
from schemas.directory import ModelPart

log = logging.getLogger(__name__)
COMPARED_FIELDS = ("category", "team", "priority", "department", "type")


@dataclass
class ShadowCounts:
    """How a shadow model's would-be decisions compare with what the stage decided."""

    version: str
    tickets: int = 0
    changed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPARED_FIELDS, 0))
    agreed_labels: int = 0  # the shadow's label equals the active model's (same slot)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "tickets": self.tickets, "changed": dict(self.changed),
                "label_agreement": round(self.agreed_labels / self.tickets, 4)
                if self.tickets else None}


class ModelSlots:
    def __init__(self, configured: Sequence[TicketClassifier], key: bytes) -> None:
        self.active: dict[str, TicketClassifier] = {m.card.target: m for m in configured}
        self.shadow: dict[str, TicketClassifier] = {}
        self.errors: dict[str, str] = {}
        self.shadow_counts: dict[str, ShadowCounts] = {}
        self._shelf = ModelShelf(key)

    def put(self, key: bytes, part: ModelPart | None) -> bool:
        """One record of the models topic; True when the active models changed."""
        try:
            slot = self._shelf.put(key, part)
        except ModelRefused as exc:
            name = part.name if part is not None else key.decode(errors="replace")
            self.errors[name] = str(exc)
            log.error("model refused, keeping the previous one",
                      extra={"stage": "classify", "model": name, "error": str(exc)})
            return False
        if slot is None:
            return False
        self.errors.pop(slot.name, None)
        table = self.active if slot.mode == "active" else self.shadow
        if slot.model is None:
            table.pop(slot.name, None)
        else:
            table[slot.name] = slot.model
            log.info("model loaded", extra={"stage": "classify", "model": slot.name,
                                            "mode": slot.mode, "version": slot.model.card.version,
                                            "target": slot.model.card.target})
        if slot.mode == "shadow":
            if slot.model is None:
                self.shadow_counts.pop(slot.name, None)
            else:
                self.shadow_counts[slot.name] = ShadowCounts(slot.model.card.version)
        return slot.mode == "active"

    def classifier(self, base: Classifier) -> Classifier:
        """``base``'s language detector and options with the active models."""
        return Classifier(base.language, list(self.active.values()), base.options)

    def shadow_classifiers(self, base: Classifier) -> list[tuple[str, Classifier]]:
        out = []
        for name, model in self.shadow.items():
            models = {**self.active, name: model}
            out.append((name, Classifier(base.language, list(models.values()), base.options)))
        return out

    def count_shadow(self, name: str, decided: Sequence[Classified],
                     would: Sequence[Classified]) -> None:
        counts = self.shadow_counts[name]
        target = self.shadow[name].card.target
        for now, then in zip(decided, would, strict=True):
            if not then.predictions:  # a follow-up: models do not act on it
                continue
            counts.tickets += 1
            for f in COMPARED_FIELDS:
                counts.changed[f] += getattr(now, f) != getattr(then, f)
            mine = next((p.label for p in then.predictions if p.target == target), None)
            theirs = next((p.label for p in now.predictions if p.target == target), None)
            counts.agreed_labels += mine == theirs

    def report(self) -> dict[str, Any]:
        """For health endpoints and metrics: what runs in each slot, what was refused."""
        def card(name: str, mode: str, m: TicketClassifier) -> dict[str, Any]:
            return {"name": name, "mode": mode, "target": m.card.target,
                    "version": m.card.version, "trained_rows": m.card.trained_rows}

        return {
            "models": [*(card(n, "active", m) for n, m in sorted(self.active.items())),
                       *(card(n, "shadow", m) for n, m in sorted(self.shadow.items()))],
            "model_errors": dict(self.errors),
            "shadow": {n: c.as_dict() for n, c in sorted(self.shadow_counts.items())},
        }
