"""The ML classifier against a plain TF-IDF + logistic-regression baseline, same run, one JSON
object (needs ``../shared/corpus/tickets``):

* ``banking77``: accuracy and macro-F1 on the official test split, trained on train.csv.
* ``open_set``: whole intents held out (``--held-out`` of the 77, ``--splits`` random draws):
  each model is trained on the other intents only (its vocabulary too), then scored on the
  test split; AUROC of its confidence for "known intent" against "never-seen intent", the
  share of unknown intents still accepted when 95 % of known ones are, and what the model's
  operating point (its thresholds) abstains on. The baseline's confidence is its max softmax
  probability, as people use it.
* ``throughput``: prediction alone (vectorise + classify + confidence), email-length tickets
  (the multilingual tickets' subject + body, median ~700 characters), one core, tickets per
  second of CPU time; the model is the queue model trained on those tickets.

Usage: python benchmarks/bench_model.py [--splits 3] [--held-out 19] [--tickets 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one core: figures are per core

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402

from classify.evaluation import open_set_figures, read_labelled_csv  # noqa: E402
from classify.model import TrainingOptions, train_model  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "tickets"
BANKING = CORPUS / "banking77"
MULTILANG = CORPUS / "multilang-tickets-v3" / "dataset-tickets-multi-lang3-4k.first1167.csv"


def baseline() -> Pipeline:
    """What one writes first: scikit-learn's defaults."""
    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))


def _cpu() -> float:
    return time.process_time()


def banking77(options: TrainingOptions) -> dict[str, Any]:
    xtr, ytr = read_labelled_csv(BANKING / "train.csv", ["text"], "category")
    xte, yte = read_labelled_csv(BANKING / "test.csv", ["text"], "category")
    start = _cpu()
    ours = train_model(xtr, ytr, options)
    ours_fit = _cpu() - start
    start = _cpu()
    base = baseline().fit(xtr, ytr)
    base_fit = _cpu() - start
    guesses = [p.best_guess for p in ours.predict(xte)]
    base_guesses = list(base.predict(xte))
    return {
        "rows_train": len(ytr), "rows_test": len(yte),
        "model": {"accuracy": round(float(accuracy_score(yte, guesses)), 4),
                  "macro_f1": round(float(f1_score(yte, guesses, average="macro")), 4),
                  "train_cpu_s": round(ours_fit, 1)},
        "baseline": {"accuracy": round(float(accuracy_score(yte, base_guesses)), 4),
                     "macro_f1": round(float(f1_score(yte, base_guesses, average="macro")), 4),
                     "train_cpu_s": round(base_fit, 1)},
    }


def open_set(options: TrainingOptions, splits: int, held_out: int) -> dict[str, Any]:
    xtr, ytr = read_labelled_csv(BANKING / "train.csv", ["text"], "category")
    xte, yte = read_labelled_csv(BANKING / "test.csv", ["text"], "category")
    intents = sorted(set(ytr))
    rng = np.random.default_rng(2026)
    ours: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    for _ in range(splits):
        hidden = set(rng.choice(intents, held_out, replace=False).tolist())
        fit_x = [x for x, y in zip(xtr, ytr, strict=True) if y not in hidden]
        fit_y = [y for y in ytr if y not in hidden]
        known = [x for x, y in zip(xte, yte, strict=True) if y not in hidden]
        unknown = [x for x, y in zip(xte, yte, strict=True) if y in hidden]
        model = train_model(fit_x, fit_y, options)
        inside, outside = model.predict(known), model.predict(unknown)
        ours.append(open_set_figures([p.confidence for p in inside],
                                     [p.confidence for p in outside],
                                     [p.abstained for p in inside],
                                     [p.abstained for p in outside]))
        b = baseline().fit(fit_x, fit_y)
        bk, bu = b.predict_proba(known).max(axis=1), b.predict_proba(unknown).max(axis=1)
        base.append(open_set_figures(list(bk), list(bu), [False] * len(bk), [False] * len(bu)))

    def mean(rows: list[dict[str, Any]], key: str) -> float:
        return round(float(np.mean([r[key] for r in rows])), 4)

    keys = ("auroc", "fpr_at_95_tpr", "abstained_known", "abstained_unknown")
    return {
        "splits": splits, "held_out_intents": held_out,
        "model": {k: mean(ours, k) for k in keys} | {"auroc_per_split": [r["auroc"] for r in ours]},
        "baseline": {k: mean(base, k) for k in keys[:2]}
        | {"auroc_per_split": [r["auroc"] for r in base]},
    }


def throughput(options: TrainingOptions, tickets: int, batch: int) -> dict[str, Any]:
    texts, labels = read_labelled_csv(MULTILANG, ["subject", "body"], "queue")
    model = train_model(texts, labels, options)
    base = baseline().fit(texts, labels)
    work = (texts * (tickets // len(texts) + 1))[:tickets]

    def rate(predict: Any) -> float:
        predict(work[:batch])  # warm
        start = _cpu()
        for i in range(0, len(work), batch):
            predict(work[i:i + batch])
        return round(len(work) / (_cpu() - start), 1)

    return {"tickets": tickets, "batch": batch,
            "median_chars": int(np.median([len(t) for t in texts])),
            "model_tickets_per_cpu_s": rate(model.predict),
            "baseline_tickets_per_cpu_s": rate(base.predict_proba)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=19)  # a quarter of the 77 intents
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--classifier", default=TrainingOptions().classifier)
    args = parser.parse_args()
    if not BANKING.is_dir():
        sys.exit(f"{BANKING} not present: this benchmark needs ../shared/corpus")
    options = TrainingOptions(classifier=args.classifier)
    result = {
        "classifier": args.classifier,
        "banking77": banking77(options),
        "open_set": open_set(options, args.splits, args.held_out),
        "throughput": throughput(options, args.tickets, args.batch),
    }
    b, o = result["banking77"], result["open_set"]
    result["summary"] = {
        "accuracy": b["model"]["accuracy"], "accuracy_baseline": b["baseline"]["accuracy"],
        "auroc": o["model"]["auroc"], "auroc_baseline": o["baseline"]["auroc"],
        "auroc_gain": round(o["model"]["auroc"] - o["baseline"]["auroc"], 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
