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


def test_preview_quotes_the_configured_sla_calendar() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from notify.cli import sample, with_configured_sla
    from notify.compose import Composer
    from notify.render import BUNDLED, load_templates
    from notify.stage import token_maker
    from route.settings import RouteSettings
    from schemas.stage import KafkaConnection, StageContext

    route = RouteSettings.model_validate({
        "calendars": {"office": {"timezone": "Europe/Paris",
                                 "hours": {d: "09:00-18:00" for d in
                                           ("mon", "tue", "wed", "thu", "fri")}}},
        "sla_policies": [{"name": "std", "calendar": "office", "first_response_minutes": 240}],
    })
    ctx = StageContext(kafka=KafkaConnection("127.0.0.1:1"),
                       sections=SimpleNamespace(route=route), signing_key=b"k" * 32)
    sunday_3am = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    n = with_configured_sla(sample("auto-ack", mailbox=None, language="en", channel="email",
                                   to="ada@example.com", now=sunday_3am), ctx, sunday_3am)
    text = Composer(load_templates(BUNDLED), NotifySettings(), token_maker(b"k" * 32)).render(
        n, sunday_3am).text
    assert "by Monday 7 December 2026, 1 pm (CET)" in text
    assert "Monday to Friday, 9 am – 6 pm (CET)" in text
