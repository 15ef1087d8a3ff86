"""``helpline chat sign``: what a site's backend must put in data-identifier-hash."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from ingest.chat.cli import register
from ingest.chat.identity import identifier_hash
from schemas.stage import KafkaConnection, StageContext
from tests.support.chat_fakes import SECRET, chat_settings


class _Sections:
    chat = chat_settings()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app, lambda *_a, **_k: StageContext(kafka=KafkaConnection("127.0.0.1:1"),
                                       sections=_Sections(), signing_key=b"k"))
    return app


def test_sign_uses_the_site_secret_from_the_config() -> None:
    result = CliRunner().invoke(_app(), ["chat", "sign", "alice@example.com", "--site", "acme"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == identifier_hash(SECRET, "alice@example.com")


def test_sign_with_an_explicit_secret_and_unknown_sites() -> None:
    ok = CliRunner().invoke(_app(), ["chat", "sign", "u1", "--site", "x", "--secret", "s"])
    assert ok.output.strip() == identifier_hash("s", "u1")
    bad = CliRunner().invoke(_app(), ["chat", "sign", "u1", "--site", "nope"])
    assert bad.exit_code != 0


def test_sites_lists_origins() -> None:
    result = CliRunner().invoke(_app(), ["chat", "sites"])
    assert "acme" in result.output and "https://shop.example" in result.output
