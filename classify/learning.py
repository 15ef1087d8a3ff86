"""Training on the desk's own history: the labelled tickets agents' corrections left on the
``model.examples`` topic (:mod:`classify.corrections`), on top of a cold-start corpus.

:func:`drift` says, per class, how the desk differs from the corpus the model started from:
the class's share among the corrections against its share in the cold start, how often
agents moved tickets *to* it and *away from* it. A class agents keep correcting away from is
one the model over-predicts here; one they keep correcting to, one it misses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from schemas.directory import LabelledExample
from schemas.stage import TopicIO
from schemas.topics import MODEL_EXAMPLES


async def read_examples(topics: TopicIO, target: str, timeout_s: float
                        ) -> list[LabelledExample]:
    """The latest correction of ``target`` per ticket (the topic is compacted by that key;
    reading to the end and keeping the last one per key is what compaction will leave)."""
    latest: dict[bytes, LabelledExample | None] = {}
    for record in await topics.read_to_end(MODEL_EXAMPLES, timeout_s):
        if record.error is None and record.key is not None:
            latest[record.key] = record.value
    return [x for x in latest.values()
            if isinstance(x, LabelledExample) and x.target == target and x.text.strip()]


def drift(cold_labels: Sequence[str], examples: Sequence[LabelledExample]) -> dict[str, Any]:
    cold = Counter(cold_labels)
    to = Counter(x.label for x in examples)
    away = Counter(x.previous for x in examples if x.previous is not None)
    n_cold, n_desk = max(1, len(cold_labels)), max(1, len(examples))
    classes = sorted(set(cold) | set(to) | {c for c in away if c})
    per_class = {
        c: {"cold_start_share": round(cold[c] / n_cold, 4),
            "desk_share": round(to[c] / n_desk, 4),
            "corrected_to": to[c], "corrected_away": away[c],
            "new_class": c not in cold}
        for c in classes
    }
    return {"cold_start_rows": len(cold_labels), "desk_examples": len(examples),
            "by_source": dict(Counter(x.source for x in examples)), "per_class": per_class}
