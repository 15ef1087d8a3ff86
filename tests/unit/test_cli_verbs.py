"""The ``helpline`` command tree reads evenly (#15): plural groups, one verb for one act, and
every old spelling still runs as a hidden alias so scripts and docs do not break."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from runtime import cli

# Singular group names that are nouns for a thing, not a collection.
NOUN_GROUPS = {"kafka", "chat", "model", "notify", "console", "bin"}

CANONICAL = {
    "rules push", "agents push", "customers push", "model push",
    "tickets set-status", "tickets set-priority", "kafka status",
    "attachments list", "attachments get", "agents set-presence",
}

# old spelling -> canonical spelling (the same command)
ALIASES = {
    "agents load": "agents push",
    "customers load": "customers push",
    "tickets status": "tickets set-status",
    "tickets priority": "tickets set-priority",
    "attachment list": "attachments list",
    "attachment get": "attachments get",
}


def _root() -> Any:
    return typer.main.get_command(cli.build())


def _walk(command: Any, path: tuple[str, ...], hidden: bool,
          out: dict[str, tuple[Any, bool, bool]]) -> None:
    """path -> (command, is_group, hidden (itself or a parent))."""
    for name, sub in getattr(command, "commands", {}).items():
        p = (*path, name)
        h = hidden or bool(sub.hidden)
        out[" ".join(p)] = (sub, hasattr(sub, "commands"), h)
        _walk(sub, p, h, out)


def _target(command: Any) -> Any:
    """The function a command runs (typer wraps it)."""
    return getattr(command.callback, "__wrapped__", command.callback)


def _tree() -> dict[str, tuple[Any, bool, bool]]:
    out: dict[str, tuple[Any, bool, bool]] = {}
    _walk(_root(), (), False, out)
    return out


def test_every_visible_group_is_plural_or_a_named_noun() -> None:
    groups = [p for p, (_c, is_group, hidden) in _tree().items() if is_group and not hidden]
    assert "tickets bin" in groups and "attachments" in groups  # the walk reaches nested groups
    odd = [p for p in groups if not (p.split()[-1].endswith("s")
                                     or p.split()[-1] in NOUN_GROUPS)]
    assert odd == []


def test_the_canonical_verbs_exist_and_are_visible() -> None:
    tree = _tree()
    missing = sorted(p for p in CANONICAL if p not in tree or tree[p][2])
    assert missing == []


def test_publishing_a_file_has_one_verb() -> None:
    visible = [p for p, (_c, _g, hidden) in _tree().items() if not hidden]
    assert [p for p in visible if p.split()[-1] == "load"] == []
    assert "tickets status" not in visible  # `status` reports (kafka status); setting is set-status


@pytest.mark.parametrize(("old", "new"), sorted(ALIASES.items()))
def test_old_spellings_are_hidden_aliases_of_the_same_command(old: str, new: str) -> None:
    tree = _tree()
    assert old in tree and tree[old][2], f"{old} should exist, hidden"
    assert _target(tree[old][0]) is _target(tree[new][0])
    result = CliRunner().invoke(cli.app, [*old.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_hidden_aliases_are_not_listed_in_help(old: str) -> None:
    *parent, leaf = old.split()
    listing = CliRunner().invoke(cli.app, [*parent, "--help"]).output
    top = CliRunner().invoke(cli.app, ["--help"]).output
    if parent == ["attachment"]:
        assert " attachment " not in top and " attachments " in top
    else:
        commands = listing.split("Commands", 1)[1]
        names = [line.strip("│ ").split(" ", 1)[0] for line in commands.splitlines()]
        assert leaf not in names and ALIASES[old].split()[-1] in names


def test_a_one_command_group_folds_into_its_noun() -> None:
    """`helpline escalations` runs the report (like `helpline queue`); `escalations report`
    still runs it, unlisted."""
    tree = _tree()
    assert tree["escalations report"][2]
    assert [p for p in tree if p.startswith("escalations ") and not tree[p][2]] == []
    runner = CliRunner()
    help_text = runner.invoke(cli.app, ["escalations", "--help"]).output
    assert "--json" in help_text and "report" not in help_text.split("Options", 1)[1]
    assert runner.invoke(cli.app, ["escalations", "report", "--help"]).exit_code == 0


def test_a_usage_error_is_a_message_and_exit_2_not_a_traceback() -> None:
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "worker", "nope"],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "unknown worker 'nope'" in proc.stderr and "Traceback" not in proc.stderr
