"""Settings: read once at the edge from a TOML file and/or the environment, validated, passed
down as values.

Environment variables are ``HELPLINE_<SECTION>__<KEY>`` (e.g. ``HELPLINE_KAFKA__BOOTSTRAP_SERVERS``)
and win over the file named by ``--config`` or ``HELPLINE_CONFIG``. A bad value raises
:class:`runtime.errors.ConfigError` naming the key; the CLI turns that into exit code 2.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from classify.settings import ClassifySettings
from console.settings import ConsoleSettings
from ingest.mime.settings import NormalizeSettings
from ingest.settings import ChatSettings, EmailSettings
from notify.settings import NotifySettings
from route.settings import RouteSettings
from runtime.errors import ConfigError
from schemas.stage import KafkaConnection
from tickets.settings import TicketsSettings


class KafkaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Empty: helpline starts (and uses) its own local broker from `helpline kafka up`.
    bootstrap_servers: str = ""
    topic_prefix: str = "helpline."
    partitions: int = Field(default=4, ge=1, le=1024)
    # None: 3 on a cluster of three brokers or more (with min.insync.replicas 2, so a write
    # acknowledged by acks=all survives the loss of a broker), else 1
    replication_factor: int | None = Field(default=None, ge=1, le=16)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    request_timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=15.0, gt=0)


class LocalKafkaSettings(BaseModel):
    """The broker helpline starts itself for development and tests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = "4.1.1"
    scala: str = "2.13"
    cache_dir: str = ".cache/kafka"
    state_dir: str = ".cache/kafka-run"
    heap: str = "512m"
    start_timeout_s: float = Field(default=90.0, gt=0)


class RunnerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_max_records: int = Field(default=2000, ge=1)
    batch_timeout_ms: int = Field(default=20, ge=0)
    linger_ms: int = Field(default=5, ge=0)
    max_attempts: int = Field(default=3, ge=1)
    retry_backoff_s: float = Field(default=0.5, ge=0)
    table_catchup_timeout_s: float = Field(default=60.0, gt=0)
    shutdown_timeout_s: float = Field(default=15.0, gt=0)
    # How long the group waits for a replica that stopped heartbeating (crashed, frozen) before
    # its partitions move; for single-writer stages (tickets, route) it is the standby's
    # takeover time after a crash. A clean stop leaves the group at once. The broker allows
    # 6000-1800000 by default (group.min/max.session.timeout.ms).
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    # Single-writer stages (tickets, route) write each batch and its input offsets as one Kafka
    # transaction, and the replica that becomes active fences the one before it (a replica cut
    # off from its group cannot write beside its successor). Off: idempotent writes and
    # consumer commits, as the other stages (no fencing).
    fenced_writes: bool = True
    # Records a stage with fenced writes processes before the loop gets a turn (the batch in
    # flight's acknowledgements and commit, the fetcher; the other stages get whole batches).
    # Committing a transaction takes ~10 round trips
    # of the loop; with slices of 250 (~12 ms) they outlasted the next batch and the tickets
    # worker waited on them (15.1k msg/s against 16.4k without transactions); with 50, 16.1k.
    process_slice_records: int = Field(default=50, ge=1)


class ObservabilitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)  # 0: no metrics/health server
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HELPLINE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    secret_key: str = Field(
        default="dev-only-change-me",
        description="signs reply tokens and visitor tokens; set it in production",
    )
    kafka: KafkaSettings = KafkaSettings()
    local_kafka: LocalKafkaSettings = LocalKafkaSettings()
    runner: RunnerSettings = RunnerSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    email: EmailSettings = EmailSettings()
    normalize: NormalizeSettings = NormalizeSettings()
    chat: ChatSettings = ChatSettings()
    tickets: TicketsSettings = TicketsSettings()
    classify: ClassifySettings = ClassifySettings()
    route: RouteSettings = RouteSettings()
    notify: NotifySettings = NotifySettings()
    console: ConsoleSettings = ConsoleSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment first, then values from the config file (passed as init kwargs)
        return (env_settings, init_settings)

    @property
    def signing_key(self) -> bytes:
        return hashlib.sha256(self.secret_key.encode()).digest()

    def connection(self, bootstrap_servers: str | None = None) -> KafkaConnection:
        k = self.kafka
        opts: dict[str, Any] = {
            "security_protocol": k.security_protocol,
            "request_timeout_ms": int(k.request_timeout_s * 1000),
        }
        if k.sasl_mechanism:
            opts.update(
                sasl_mechanism=k.sasl_mechanism,
                sasl_plain_username=k.sasl_username,
                sasl_plain_password=k.sasl_password,
            )
        if k.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            opts["ssl_context"] = create_ssl_context(
                cafile=k.ssl_cafile, certfile=k.ssl_certfile, keyfile=k.ssl_keyfile
            )
        return KafkaConnection(
            bootstrap_servers=bootstrap_servers or k.bootstrap_servers,
            topic_prefix=k.topic_prefix,
            client_options=tuple(sorted(opts.items())),
        )


def _error_key(err: Mapping[str, Any]) -> str:
    return ".".join(str(p) for p in err.get("loc", ())) or "(root)"


def load_settings(
    config_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the config file (if any) and the environment once. Raises ConfigError."""
    data: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("config", f"file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", f"{path}: {exc}") from None
    try:
        if env is None:
            return Settings(**data)
        env_vars = {k.lower(): v for k, v in env.items()}
        # explicit environment (tests): bypass os.environ
        from pydantic_settings import EnvSettingsSource

        class _S(Settings):
            @classmethod
            def settings_customise_sources(cls, settings_cls, init_settings, *_a: Any, **_k: Any):  # type: ignore[no-untyped-def]
                src = EnvSettingsSource(settings_cls)
                src.env_vars = env_vars
                return (src, init_settings)

        return _S(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(_error_key(first), first.get("msg", "invalid")) from None
