"""The ``helpline`` command.

Core commands (kafka, topics, worker, replay, dev) live in ``runtime``; each stage package may
add its own in ``<package>/cli.py`` through ``register(app, get_ctx)``, where ``get_ctx()``
returns the validated :class:`schemas.stage.StageContext` (settings are read once, lazily).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from runtime.errors import BrokerUnavailable, ConfigError, HelplineError, MissingTool
from runtime.settings import Settings, load_settings
from schemas.stage import StageContext

app = typer.Typer(
    name="helpline",
    help="Support inbox pipeline: email and chat in, tickets out, on Apache Kafka.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_state: dict[str, Any] = {"config": None, "settings": None, "registered": False}

PLUGINS = (
    "ingest.mime.cli",
    "ingest.imap.cli",
    "ingest.mime.attachments_cli",
    "ingest.chat.cli",
    "tickets.cli",
    "classify.cli",
    "route.cli",
    "notify.cli",
    "console.cli",
)


def get_settings() -> Settings:
    if _state["settings"] is None:
        _state["settings"] = load_settings(_state["config"])
    settings: Settings = _state["settings"]
    return settings


def get_ctx(bootstrap: str | None = None, *, broker: bool = True) -> StageContext:
    """The validated context. ``broker=False``: for commands that only need settings (the
    broker address is then the configured one, possibly empty, and nothing is resolved)."""
    from runtime.kafka import resolve_bootstrap
    from runtime.topic_io import KafkaTopicIO

    s = get_settings()
    if broker:
        bootstrap = bootstrap or resolve_bootstrap(s)
    kafka = s.connection(bootstrap)  # None/"": the configured address
    return StageContext(
        kafka=kafka,
        sections=s,
        signing_key=s.signing_key,
        topics=KafkaTopicIO(kafka),  # no connection until used
    )


@app.callback()
def _root(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", envvar="HELPLINE_CONFIG", help="TOML config file"),
    ] = None,
) -> None:
    _state["config"] = config
    _state["settings"] = None


def _register_plugins() -> None:
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        register: Callable[[typer.Typer, Callable[[], StageContext]], None]
        register = module.register
        register(app, get_ctx)


def _register_core() -> None:
    from runtime import commands, dev

    commands.register(app, get_settings, get_ctx)
    dev.register(app, get_settings)


def build() -> typer.Typer:
    """The ``helpline`` app with every command registered (once, however often it is called)."""
    if not _state["registered"]:
        _state["registered"] = True
        _register_core()
        _register_plugins()
    return app


def main(argv: list[str] | None = None) -> None:
    build()
    try:
        # With standalone_mode=False click returns the code of a `typer.Exit` instead of raising.
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except ConfigError as exc:
        typer.echo(f"helpline: configuration error: {exc}", err=True)
        sys.exit(2)
    except (BrokerUnavailable, MissingTool) as exc:
        typer.echo(f"helpline: {exc}", err=True)
        sys.exit(1)
    except HelplineError as exc:
        typer.echo(f"helpline: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as exc:  # click usage errors come here with standalone_mode=False
        import click

        # typer >= 0.26 raises its own vendored click's exceptions (under typer.TyperException)
        if isinstance(exc, (click.ClickException, typer.TyperException)) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 1))
        raise


if __name__ == "__main__":
    main()
