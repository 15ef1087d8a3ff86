"""Core commands: ``kafka``, ``topics``, ``worker``, ``replay``."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from runtime import logs
from runtime.errors import HelplineError
from runtime.settings import Settings
from schemas.stage import Connector, KafkaConnection, StageContext
from schemas.topics import CONSUMERS as TOPIC_CONSUMERS

# Which stages consume each topic (for the lag column of `helpline topics list`): derived from
# the topology registry, kept here under its old name.
CONSUMERS: dict[str, tuple[str, ...]] = TOPIC_CONSUMERS


@dataclasses.dataclass(frozen=True)
class _Edge:
    """What ``register`` hands the commands, as the click context's obj (inherited by every
    subcommand): settings and the stage context, both read lazily at the edge."""

    settings: Callable[[], Settings]
    ctx: Callable[..., StageContext]


def _get_settings(cli: typer.Context) -> Settings:
    edge: _Edge = cli.obj
    return edge.settings()


def _get_ctx(cli: typer.Context) -> StageContext:
    edge: _Edge = cli.obj
    return edge.ctx()


def kafka_fetch(cli: typer.Context) -> None:
    """Download the broker jars from Maven Central into the versioned cache."""
    from runtime.kafka import fetch, project_root

    libs = fetch(_get_settings(cli).local_kafka, project_root())
    typer.echo(f"Apache Kafka {_get_settings(cli).local_kafka.version}: {libs}")


def kafka_up(
    cli: typer.Context,
    nodes: Annotated[int, typer.Option(help="1, or 3 for a fault-test cluster")] = 1,
) -> None:
    """Start a local broker in the background (no-op when one is running)."""
    from runtime.kafka import KafkaCluster, fetch, local_cluster, project_root, state_dir

    s = _get_settings(cli)
    if s.kafka.bootstrap_servers:
        typer.echo(f"kafka.bootstrap_servers is set ({s.kafka.bootstrap_servers}): "
                   "using that broker, nothing started")
        return
    running = local_cluster(s)
    if running is not None:
        typer.echo(f"already running: {running.bootstrap}")
        return
    libs = fetch(s.local_kafka, project_root())
    base = state_dir(s)
    if base.exists():
        import shutil

        shutil.rmtree(base)
    cluster = KafkaCluster(libs=libs, base_dir=base, size=nodes, heap=s.local_kafka.heap,
                           start_timeout_s=s.local_kafka.start_timeout_s)
    started = time.monotonic()
    cluster.start()
    cluster.save()
    typer.echo(f"Kafka {s.local_kafka.version} up at {cluster.bootstrap} "
               f"({time.monotonic() - started:.1f}s); logs in {base}")


def kafka_down(cli: typer.Context) -> None:
    """Stop the local broker."""
    from runtime.kafka import KafkaCluster, state_dir

    cluster = KafkaCluster.load(state_dir(_get_settings(cli)))
    if cluster is None or not cluster.running():
        typer.echo("not running")
        return
    cluster.stop()
    typer.echo("stopped")


def kafka_status(cli: typer.Context) -> None:
    """Say whether a broker is reachable, and where."""
    from runtime.kafka import local_cluster, resolve_bootstrap

    s = _get_settings(cli)
    bootstrap = resolve_bootstrap(s)
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(2)
        reachable = sock.connect_ex((host or "127.0.0.1", int(port))) == 0
    where = "local" if local_cluster(s) is not None and not s.kafka.bootstrap_servers \
        else "configured"
    typer.echo(f"{where} broker {bootstrap}: {'reachable' if reachable else 'NOT reachable'}")
    if not reachable:
        raise typer.Exit(1)


def topics_create(
    cli: typer.Context,
    partitions: Annotated[int | None, typer.Option(help="default: kafka.partitions")] = None,
    replication_factor: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Create every topic of the registry that does not exist yet (idempotent)."""
    from runtime.kafka_io import create_topics

    s = _get_settings(cli)
    ctx = _get_ctx(cli)
    created = asyncio.run(create_topics(
        ctx.kafka, partitions=partitions or s.kafka.partitions,
        replication_factor=replication_factor or s.kafka.replication_factor))
    typer.echo(f"created {len(created)} topic(s)" + (": " + ", ".join(created)
                                                     if created else " (all existed)"))


def topics_list(cli: typer.Context) -> None:
    """Every topic with its key, cleanup policy, records and the lag of its consumers."""
    from runtime.kafka_io import topic_status
    from schemas.topics import ALL

    ctx = _get_ctx(cli)
    rows = asyncio.run(topic_status(ctx.kafka, ALL, {k: list(v) for k, v in
                                                      CONSUMERS.items()}))
    typer.echo(f"{'topic':<22} {'parts':>5} {'cleanup':<8} {'records':>9}  lag  (key)")
    for r in rows:
        if r.end_offsets < 0:
            typer.echo(f"{r.name:<22} {'-':>5} {r.cleanup:<8} {'missing':>9}")
            continue
        lag = " ".join(f"{k}={v}" for k, v in r.lag.items()) or "-"
        typer.echo(f"{r.name:<22} {r.partitions:>5} {r.cleanup:<8} {r.end_offsets:>9}  "
                   f"{lag}  ({r.key})")


def worker(
    cli: typer.Context,
    name: Annotated[str, typer.Argument(help="normalize | tickets | classify | route | "
                                             "notify | imap | smtp | chat")],
    instance_id: Annotated[str, typer.Option(help="unique per replica")] =
        os.environ.get("HOSTNAME", "0"),
) -> None:
    """Run one stage (or connector) of the pipeline; scale each on its own."""
    from runtime.workers import SERVICES, STAGES

    if name not in STAGES and name not in SERVICES:
        raise typer.BadParameter(
            f"unknown worker {name!r}; one of: {', '.join([*STAGES, *SERVICES])}")
    s = _get_settings(cli)
    logs.configure(s.observability.log_level, s.observability.log_format)
    ctx = _get_ctx(cli)
    ctx = dataclasses.replace(ctx, instance_id=instance_id)
    asyncio.run(_run_worker(name, s, ctx))


def replay(
    cli: typer.Context,
    source: Annotated[str, typer.Option("--from", help="a dead-letter topic, e.g. "
                                                       "dlq.normalize")],
    limit: Annotated[int, typer.Option(help="at most this many records")] = 1_000_000,
    dry_run: Annotated[bool, typer.Option(help="list, do not republish")] = False,
) -> None:
    """Put dead-lettered records back on the topic they came from (after a fix)."""
    from schemas.topics import BY_NAME

    spec = BY_NAME.get(source.removeprefix(_get_settings(cli).kafka.topic_prefix))
    if spec is None or not spec.name.startswith("dlq."):
        raise typer.BadParameter(f"{source!r} is not a dead-letter topic")
    n = asyncio.run(replay_dead_letters(_get_ctx(cli).kafka, spec.name, limit, dry_run))
    typer.echo(f"{'would replay' if dry_run else 'replayed'} {n} record(s) from {spec.name}")


def register(
    app: typer.Typer,
    get_settings: Callable[[], Settings],
    get_ctx: Callable[..., StageContext],
) -> None:
    settings = {"obj": _Edge(get_settings, get_ctx)}
    kafka = typer.Typer(help="The local Apache Kafka broker (KRaft) helpline runs for you.",
                        no_args_is_help=True, context_settings=settings)
    topics = typer.Typer(help="Create and inspect helpline's topics.", no_args_is_help=True,
                         context_settings=settings)
    app.add_typer(kafka, name="kafka")
    app.add_typer(topics, name="topics")

    kafka.command("fetch")(kafka_fetch)
    kafka.command("up")(kafka_up)
    kafka.command("down")(kafka_down)
    kafka.command("status")(kafka_status)
    topics.command("create")(topics_create)
    topics.command("list")(topics_list)
    app.command("worker", context_settings=settings)(worker)
    app.command("replay", context_settings=settings)(replay)


async def _run_worker(name: str, s: Settings, ctx: StageContext) -> None:
    from prometheus_client import CollectorRegistry

    from runtime.broker_health import STAGE_PROBE_INTERVAL_S, ClusterWatch
    from runtime.http import health_app, serve
    from runtime.kafka_io import KafkaPublisher
    from runtime.metrics import StageMetrics
    from runtime.runner import StageRunner
    from runtime.workers import SERVICES, STAGES, load

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    registry = CollectorRegistry()
    metrics = StageMetrics.create(registry)
    ctx = dataclasses.replace(ctx, meter=metrics.meter())
    tasks: list[asyncio.Task[Any]] = []
    status: Callable[[], dict[str, object]]
    if name in STAGES:
        stage = load(STAGES[name])(ctx)
        runner = StageRunner(stage, ctx.kafka, s.runner, metrics, ctx.instance_id)

        # a stage may report more (classify: the models it runs, the ones it refused)
        stage_report = getattr(stage, "report", None)
        if stage_report is not None:
            metrics.watch(stage_report)

        def status() -> dict[str, object]:
            st = runner.status
            metrics.ready(name, st.ready)
            extra: dict[str, object] = stage_report() if stage_report is not None else {}
            return {"stage": name, "state": st.state, "ready": st.ready, "error": st.error,
                    "records_in": st.records_in, "dead_letters": st.dead_letters, **extra}

        tasks.append(asyncio.create_task(runner.run(stop)))
        # counts broker outages for the metrics
        watch = ClusterWatch(ctx.kafka, interval_s=STAGE_PROBE_INTERVAL_S)
        metrics.broker(name, watch.health)
        tasks.append(asyncio.create_task(watch.run(stop)))
    else:
        publisher = KafkaPublisher(ctx.kafka)
        await publisher.start()
        publisher.watch()  # probes the cluster, replaces a producer that can no longer write
        metrics.broker(name, publisher.health)
        # A connector may keep a status board (e.g. IMAP says not ready while a mailbox
        # needs re-auth); otherwise running = ready. Either way it is not ready while it
        # cannot write to the broker.
        connector: Connector = load(SERVICES[name])
        board = connector.status
        if board is not None:
            metrics.watch(board.report)

        def status() -> dict[str, object]:
            broker = publisher.health.report(time.monotonic())
            report: dict[str, object] = dict(board.report()) if board is not None else {
                "service": name, "ready": True}
            ready = bool(report.get("ready")) and publisher.health.writable
            metrics.ready(name, ready)
            return {"state": "running", **report, "ready": ready, **broker}

        async def service() -> None:
            try:
                await connector.run(ctx, publisher, stop)
            finally:
                await publisher.stop()

        tasks.append(asyncio.create_task(service()))
    if s.observability.http_port:
        app = health_app(registry, status)
        tasks.append(asyncio.create_task(serve(app, s.observability.http_host,
                                               s.observability.http_port, stop)))
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
            raise r


# A replay reads its dead-letter topic up to the end seen when it starts, within this time
# (the progress made is committed batch by batch: running it again goes on from there).
REPLAY_TIMEOUT_S = 600.0
REPLAY_BATCH_RECORDS = 500  # records read (and committed) together at most


async def replay_dead_letters(
    conn: KafkaConnection, dlq_topic: str, limit: int, dry_run: bool,
    timeout_s: float = REPLAY_TIMEOUT_S,
) -> int:
    """Republish each dead letter's original bytes to its source topic, once: progress is the
    committed offset of the consumer group ``<prefix>replay.<dlq>``."""
    from contextlib import aclosing

    from runtime.kafka_io import make_producer, start_client
    from runtime.topic_io import KafkaTopicReader
    from schemas.deadletter import DeadLetter
    from schemas.topics import BY_NAME

    reader = KafkaTopicReader(conn, [BY_NAME[dlq_topic]], timeout_s, wait_for_topics=False,
                              max_records=REPLAY_BATCH_RECORDS,
                              group_id=f"{conn.topic_prefix}replay.{dlq_topic}")
    await reader.open(KafkaTopicReader.committed)
    producer = make_producer(conn)
    n = 0
    try:
        await start_client(producer, conn)
        async with aclosing(reader.catch_up()) as batches:
            async for batch in batches:
                records = batch[:limit - n]
                for r in records:
                    letter = r.value
                    if not isinstance(letter, DeadLetter):
                        raise HelplineError(f"{dlq_topic}@{r.offset}: not a dead letter: "
                                            f"{r.error or 'no value'}")
                    target = BY_NAME.get(letter.source_topic)
                    if target is None:
                        raise HelplineError(f"unknown source topic {letter.source_topic!r}")
                    if dry_run:
                        typer.echo(f"{r.offset}: {letter.source_topic} {letter.error_type}: "
                                   f"{letter.error.splitlines()[0][:100]}")
                    else:
                        await producer.send_and_wait(conn.topic(target), letter.value,
                                                     key=letter.key)
                    n += 1
                if not dry_run:
                    await reader.commit(records)
                if n >= limit:
                    break
    except TimeoutError:
        raise HelplineError(f"{dlq_topic} not read to the end within {timeout_s:g}s "
                            f"({n} record(s) replayed; run again to go on)") from None
    finally:
        await producer.stop()
        await reader.close()
    return n
