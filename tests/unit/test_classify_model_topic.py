"""Models through the models topic, without a broker: a push's records, put back together by a
worker's shelf, verified (HMAC, then the card's library versions) before anything is unpickled;
a refused model leaves the stage on the one it had; shadow models count, never act."""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.evaluation import read_labelled_csv
from classify.model import (
    METADATA,
    WEIGHTS,
    ModelLoadError,
    TrainingOptions,
    library_versions,
    read_card,
    save_model,
    train_model,
)
from classify.model_topic import (
    ModelRefused,
    ModelShelf,
    compatibility_problems,
    model_parts,
    signing_key,
    superseded_chunks,
)
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from schemas.codec import decode
from schemas.directory import ModelPart
from schemas.encoding import encode
from schemas.topics import MODELS
from tests.support.classify_events import opened, records

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"
KEY = signing_key(None, b"k" * 32)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    out = tmp_path_factory.mktemp("model")
    save_model(train_model(texts, labels, TrainingOptions(seed=13)), out)
    return out


def parts_of(model_dir: Path, key: bytes = KEY, chunk: int = 4096, name: str = "category",
             mode: str = "active") -> list[tuple[bytes, ModelPart]]:
    card, weights = (model_dir / METADATA).read_text(), (model_dir / WEIGHTS).read_bytes()
    return model_parts(name, card, weights, key, mode, NOW, chunk)  # type: ignore[arg-type]


def test_a_push_is_chunks_then_a_signed_manifest_that_survive_the_wire(model_dir: Path) -> None:
    parts = parts_of(model_dir)
    *chunks, (manifest_key, manifest) = parts
    assert len(chunks) > 1 and all(len(p.data) <= 4096 for _, p in chunks)
    assert manifest_key == b"category" and manifest.is_manifest and manifest.signature
    assert [k for k, _ in chunks][:2] == [f"{manifest.version}/0".encode(),
                                          f"{manifest.version}/1".encode()]
    shelf = ModelShelf(KEY)
    slot = None
    for key, part in parts:
        slot = shelf.put(key, decode(ModelPart, encode(part)))
    assert slot is not None and slot.model is not None and slot.mode == "active"
    assert slot.model.predict(["I was charged twice on my invoice"])[0].best_guess == "billing"


class _Planted:
    """A pickle that, once unpickled, creates a file: what an attacker would push."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_a_model_signed_with_another_key_is_refused_before_unpickling(
        model_dir: Path, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    weights = pickle.dumps(_Planted(planted))
    card = read_card((model_dir / METADATA).read_text(), "x")
    digest = hashlib.sha256(weights).hexdigest()
    text = json.dumps({**asdict(replace(card, weights_sha256=digest, version=digest[:16]))})
    parts = model_parts("category", text, weights, signing_key("another key", b""), "active", NOW)
    shelf = ModelShelf(KEY)
    with pytest.raises(ModelRefused, match="bad signature"):
        for key, part in parts:
            shelf.put(key, part)
    assert not planted.exists()
    # the same bytes signed with the worker's key would be unpickled: the key is the gate
    shelf = ModelShelf(KEY)
    with pytest.raises(ModelRefused, match="could not be loaded"):
        for key, part in model_parts("category", text, weights, KEY, "active", NOW):
            shelf.put(key, part)
    assert planted.exists()


def test_altered_chunks_or_card_fail_the_signature(model_dir: Path) -> None:
    parts = parts_of(model_dir)
    evil = [(k, replace(p, data=p.data[:-1] + b"\x00") if p.index == 1 else p) for k, p in parts]
    shelf = ModelShelf(KEY)
    with pytest.raises(ModelRefused, match="bad signature"):
        for key, part in evil:
            shelf.put(key, part)
    *chunks, (mkey, manifest) = parts
    card = manifest.card.replace('"target": "category"', '"target": "priority"')
    shelf = ModelShelf(KEY)
    for key, part in chunks:
        shelf.put(key, part)
    with pytest.raises(ModelRefused, match="bad signature"):
        shelf.put(mkey, replace(manifest, card=card))


def test_a_missing_chunk_is_refused_with_a_count(model_dir: Path) -> None:
    parts = parts_of(model_dir)
    shelf = ModelShelf(KEY)
    for key, part in parts[1:]:
        if not part.is_manifest:
            shelf.put(key, part)
    with pytest.raises(ModelRefused, match=r"1 of \d+ chunks missing"):
        shelf.put(*parts[-1])


def test_a_card_from_other_library_versions_does_not_match(model_dir: Path) -> None:
    card = read_card((model_dir / METADATA).read_text(), "x")
    assert compatibility_problems(card) == []
    ours = {**library_versions(), "scikit-learn": "0.24.2"}
    assert any("scikit-learn" in p for p in compatibility_problems(card, ours))
    numpy_patch = library_versions()["numpy"] + "9"  # same minor: fine
    assert compatibility_problems(card, {**library_versions(), "numpy": numpy_patch}) == []
    old = replace(card, libraries={})
    assert "no library versions" in compatibility_problems(old)[0]


def test_a_signed_model_with_other_library_versions_is_refused(model_dir: Path) -> None:
    text = (model_dir / METADATA).read_text().replace(
        f'"scikit-learn": "{library_versions()["scikit-learn"]}"', '"scikit-learn": "0.24.2"')
    weights = (model_dir / WEIGHTS).read_bytes()
    with pytest.raises(ModelLoadError, match=r"scikit-learn 0\.24\.2"):
        model_parts("category", text, weights, KEY, "active", NOW)
    # a worker refuses one that was pushed anyway (by an older helpline, say), signature good
    from classify.model_topic import manifest_key, signature
    manifest = ModelPart(name="category", version=read_card(text, "x").version, index=1,
                         count=1, card=text, signature=signature(KEY, text.encode(), weights))
    shelf = ModelShelf(KEY)
    shelf.put(b"v/0", ModelPart(name="category", version=manifest.version, index=0, count=1,
                                data=weights))
    with pytest.raises(ModelRefused, match="does not match this worker"):
        shelf.put(manifest_key("category", "active"), manifest)


def stage() -> ClassifyStage:
    return ClassifyStage(Classifier(None), ClassifySettings(), KEY)


def test_the_stage_hot_reloads_keeps_the_previous_model_on_refusal_and_reports_it(
        model_dir: Path) -> None:
    s = stage()
    assert s.report()["models"] == [] and s.classifier.models == ()
    for key, part in parts_of(model_dir):
        s.restore(MODELS, key, part)
    version = read_card((model_dir / METADATA).read_text(), "x").version
    assert [(m["name"], m["version"], m["mode"]) for m in s.report()["models"]] == [
        ("category", version, "active")]
    out = s.process(records(opened("t1", "Invoice", "I was charged twice on my invoice")), NOW)
    assert out[0].value.payload.model_version == version
    assert out[0].value.payload.predictions[0].best_guess == "billing"
    for key, part in parts_of(model_dir, key=b"wrong"):
        s.restore(MODELS, key, part)
    assert "bad signature" in s.report()["model_errors"]["category"]
    assert s.classifier.models[0].card.version == version  # the previous one kept
    s.restore(MODELS, b"category", None)  # the slot's tombstone: rules only
    assert s.classifier.models == ()


def test_a_shadow_model_counts_would_be_changes_and_never_acts(model_dir: Path,
                                                             tmp_path: Path) -> None:
    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    flipped = ["delivery" if y == "billing" else y for y in labels]
    other = tmp_path / "other"
    save_model(train_model(texts, flipped, TrainingOptions(seed=13)), other)
    s = stage()
    for key, part in [*parts_of(model_dir), *parts_of(other, mode="shadow")]:
        s.restore(MODELS, key, part)
    out = s.process(records(opened("t1", "Invoice", "I was charged twice on my invoice")), NOW)
    assert out[0].value.payload.category == "billing"  # the active model decided
    shadow = s.report()["shadow"]["category"]
    assert shadow["tickets"] == 1 and shadow["changed"]["category"] == 1
    assert shadow["label_agreement"] == 0.0


def test_superseded_chunks_are_those_no_manifest_refers_to(model_dir: Path) -> None:
    old = parts_of(model_dir)
    new = [(k.replace(old[-1][1].version.encode(), b"v2"), replace(p, version="v2"))
           for k, p in old]
    stale = superseded_chunks([*old, *new])
    assert stale and all(k.startswith(old[-1][1].version.encode()) for k in stale)
    assert superseded_chunks([*old, *new[:-1], (b"shadowed:shadow", new[-1][1])]) == []


def test_trained_cards_record_their_library_versions(model_dir: Path) -> None:
    card = read_card((model_dir / METADATA).read_text(), "x")
    assert set(card.libraries) >= {"scikit-learn", "numpy", "scipy", "joblib", "python"}
