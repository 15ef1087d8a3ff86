"""``helpline rules check`` on YAML files: chosen by the file name or ``--format``, errors as
``FILE:line:col: path: reason`` and exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from classify.cli import register
from schemas.stage import StageContext

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_YAML = REPO / "classify" / "examples" / "rules.yaml"


def _no_broker() -> StageContext:
    raise AssertionError("rules check must not need Kafka")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app, _no_broker)
    return app


def test_the_example_yaml_checks_ok(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["rules", "check", str(EXAMPLE_YAML)])
    assert result.exit_code == 0, result.output
    assert "ok, 9 rules, mode all" in result.stdout


def test_yaml_errors_name_file_line_column_and_path(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text("rule:\n  - id: a\n    when: {field: subjet, equals: x}\n"
                   "    then: {stop: yes}\n")
    result = CliRunner().invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4:18: rule[0] (a).then.stop: 'yes' is true/false" in result.stderr


def test_format_option_for_other_names(app: typer.Typer, tmp_path: Path) -> None:
    rules = tmp_path / "rules.conf"
    rules.write_text("rule:\n  - id: a\n    then: {tags: [x]}\n")
    as_toml = CliRunner().invoke(app, ["rules", "check", str(rules)])
    assert as_toml.exit_code == 1  # read as TOML by default, as before
    as_yaml = CliRunner().invoke(app, ["rules", "check", "--format", "yaml", str(rules)])
    assert as_yaml.exit_code == 0, as_yaml.output
    assert "ok, 1 rules" in as_yaml.stdout
    bogus = CliRunner().invoke(app, ["rules", "check", "--format", "json", str(rules)])
    assert bogus.exit_code == 1 and "use toml or yaml" in bogus.stderr
