"""``helpline model push`` and ``promote``: a trained model onto the compacted ``models``
topic (the edge; the records themselves are made by :mod:`classify.model_topic`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from classify.model import METADATA, WEIGHTS
from classify.model_topic import manifest_key, model_parts, superseded_chunks
from classify.publish import PublishError
from schemas.directory import ModelMode, ModelPart
from schemas.stage import TopicIO
from schemas.topics import MODELS


def read_model_dir(directory: Path) -> tuple[str, bytes]:
    """``model.json`` text and ``model.joblib`` bytes of a trained model directory."""
    card, weights = directory / METADATA, directory / WEIGHTS
    if not card.is_file() or not weights.is_file():
        raise ValueError(f"{directory}: no {METADATA} and {WEIGHTS} here "
                         "(a directory written by `helpline model train --out`)")
    return card.read_text(encoding="utf-8"), weights.read_bytes()


async def push_model(topics: TopicIO, name: str, card_text: str, weights: bytes, key: bytes,
                     mode: ModelMode, now: datetime, chunk_bytes: int, timeout_s: float,
                     ) -> ModelPart:
    """Chunks first, acknowledged, then the manifest: a worker never sees a manifest whose
    chunks are not on the topic before it. Then tombstones for chunks no manifest uses."""
    parts = model_parts(name, card_text, weights, key, mode, now, chunk_bytes)
    try:
        await topics.publish(MODELS, parts[:-1], timeout_s)
        await topics.publish(MODELS, parts[-1:], timeout_s)
        await _clean(topics, timeout_s)
    except Exception as exc:  # the port's errors are the runtime's, which we may not import
        if not hasattr(exc, "retriable"):
            raise
        raise PublishError(str(exc)) from None
    return parts[-1][1]


async def promote_shadow(topics: TopicIO, name: str, timeout_s: float) -> ModelPart:
    """The shadow model of ``name`` becomes its active model (same signed manifest, so no
    key is needed); the shadow slot is emptied."""
    from dataclasses import replace

    shadow_key = manifest_key(name, "shadow")
    current = [r for r in await topics.read_to_end(MODELS, timeout_s) if r.key == shadow_key]
    if not current or not isinstance(current[-1].value, ModelPart):
        raise ValueError(f"no shadow model named {name!r} on the models topic")
    manifest = replace(current[-1].value, mode="active")
    await topics.publish(MODELS, [(manifest_key(name, "active"), manifest),
                                  (shadow_key, None)], timeout_s)
    await _clean(topics, timeout_s)
    return manifest


async def _clean(topics: TopicIO, timeout_s: float) -> None:
    records = await topics.read_to_end(MODELS, timeout_s)
    stale = superseded_chunks([(r.key or b"", r.value) for r in records if r.error is None])
    if stale:
        await topics.publish(MODELS, [(k, None) for k in stale], timeout_s)
