"""``helpline notify preview`` / ``send-test`` through typer, without a broker."""

from __future__ import annotations

from typer.testing import CliRunner

from notify.settings import NotifySettings
from tests.support.notify_builders import cli_app


def test_preview_in_french_without_a_broker() -> None:
    result = CliRunner().invoke(cli_app(), ["notify", "preview", "--language", "fr"])
    assert result.exit_code == 0, result.output
    assert "Nous avons bien reçu votre demande" in result.output
    assert "[HL-2026-000123]" in result.output


def test_preview_raw_has_the_loop_headers() -> None:
    result = CliRunner().invoke(cli_app(NotifySettings()), ["notify", "preview", "--raw"])
    assert result.exit_code == 0, result.output
    assert "Auto-Submitted: auto-replied" in result.output
    assert "Message-ID: <hl-t000123-" in result.output


def test_preview_rejects_unknown_kinds() -> None:
    result = CliRunner().invoke(cli_app(), ["notify", "preview", "--kind", "nope"])
    assert result.exit_code != 0

