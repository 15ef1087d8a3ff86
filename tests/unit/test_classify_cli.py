"""``helpline model train|evaluate|predict`` and ``helpline rules check`` on the golden data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from classify.cli import register
from schemas.stage import StageContext

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"
REPO = Path(__file__).resolve().parents[2]


def _no_broker() -> StageContext:
    raise AssertionError("these commands must not need Kafka")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app, _no_broker)
    return app


def test_train_evaluate_predict(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(GOLDEN / "tickets.csv")
    model = str(tmp_path / "model")
    trained = runner.invoke(app, ["model", "train", "--data", data, "--text-col", "text",
                                  "--label-col", "category", "--out", model,
                                  "--holdout", "0.25"])
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["model"]["labels"] == ["billing", "delivery", "login"]
    assert 0 < report["model"]["confidence_threshold"] < 1
    assert set(report["holdout"]) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}

    evaluated = runner.invoke(app, ["model", "evaluate", "--data", data, "--text-col", "text",
                                    "--label-col", "category", "--model", model,
                                    "--out-of-scope", str(GOLDEN / "out_of_scope.csv")])
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.stdout)
    assert scores["rows"] == 48
    assert scores["out_of_scope"]["rows"] == 10
    assert scores["per_class"]["billing"]["support"] == 16

    predicted = runner.invoke(app, ["model", "predict", "--data", str(GOLDEN / "out_of_scope.csv"),
                                    "--text-col", "text", "--model", model])
    assert predicted.exit_code == 0, predicted.output
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(rows) == 10
    for row in rows:
        assert set(row) >= {"label", "confidence", "abstained"}
        assert (row["label"] is None) == row["abstained"]


def test_rules_check(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["rules", "check", str(REPO / "classify" / "examples" / "rules.toml")])
    assert ok.exit_code == 0 and "ok, 9 rules" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "a"\nthen = { priority = "asap" }\n')
    refused = runner.invoke(app, ["rules", "check", str(bad)])
    assert refused.exit_code == 1
    assert "3:" in refused.output and "priority must be one of" in refused.output


def test_operator_mistakes_are_one_line_errors(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(GOLDEN / "tickets.csv")
    wrong_column = runner.invoke(app, ["model", "train", "--data", data, "--text-col", "body",
                                       "--label-col", "category", "--out", str(tmp_path / "m")])
    assert wrong_column.exit_code == 1
    assert "no column 'body'" in wrong_column.output
    wrong_target = runner.invoke(app, ["model", "train", "--data", data, "--text-col", "text",
                                       "--label-col", "category", "--target", "colour",
                                       "--out", str(tmp_path / "m")])
    assert wrong_target.exit_code == 1 and "target must be one of" in wrong_target.output
    no_model = runner.invoke(app, ["model", "predict", "--data", data, "--text-col", "text",
                                   "--model", str(tmp_path / "missing")])
    assert no_model.exit_code == 1 and "no model.json" in no_model.output
