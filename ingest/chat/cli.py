"""``helpline chat …``: helpers for sites embedding the widget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from ingest.chat.identity import identifier_hash
from ingest.chat.settings import ChatSettings
from schemas.stage import StageContext


def register(app: typer.Typer, get_ctx: Callable[..., StageContext]) -> None:
    chat = typer.Typer(help="The chat channel: widget sites and identity verification.",
                       no_args_is_help=True)

    def _settings() -> ChatSettings:
        settings: ChatSettings = get_ctx(broker=False).section("chat")  # no Kafka needed
        return settings

    @chat.command("sign")
    def sign(
        identifier: Annotated[str, typer.Argument(help="the user's id or email on the site")],
        site: Annotated[str, typer.Option("--site", "-s", help="chat site id")],
        secret: Annotated[
            str | None,
            typer.Option("--secret", help="the site secret (default: from the config)"),
        ] = None,
    ) -> None:
        """Print identifier_hash = HMAC-SHA256(site secret, IDENTIFIER), as the site's
        backend must compute it for the widget's ``data-identifier-hash``."""
        if secret is None:
            found = _settings().site(site)
            if found is None:
                raise typer.BadParameter(f"no chat site {site!r} configured", param_hint="--site")
            if not found.secret:
                raise typer.BadParameter(f"chat site {site!r} has no secret", param_hint="--site")
            secret = found.secret
        typer.echo(identifier_hash(secret, identifier))

    @chat.command("sites")
    def sites() -> None:
        """List the configured chat sites and their allowed origins."""
        for s in _settings().sites:
            origins = ", ".join(s.allowed_origins) or "(none: every browser request refused)"
            identity = "identity required" if s.require_identity else "anonymous allowed"
            typer.echo(f"{s.id}\t{s.availability}\t{identity}\t{origins}")

    app.add_typer(chat, name="chat")
