"""``helpline dev``: the whole pipeline on this machine, and a ticket made before your eyes.

Starts (or reuses) the local Kafka broker, creates the topics, publishes the demo rules and
agents, starts an SMTP sink (aiosmtpd, standing in for your outgoing mail server) and every
worker as its own process — normalize, tickets, classify, route, notify, the SMTP receiver and
the chat service — and the agents' console (a fresh password for a demo agent and supervisor),
then sends a sample email through the SMTP receiver and a sample chat message through the chat
API, and prints each ticket's events as they happen, the acknowledgements the sink received and
where to sign in to the console. Leaves everything running (Ctrl-C stops it) unless
``--demo-only``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import typer

from runtime.kafka import free_port

DEMO = Path(__file__).resolve().parent / "demo"
DEMO_TRAINING = Path(__file__).resolve().parents[1] / "classify" / "examples" / "training.csv"
WORKERS = ("normalize", "tickets", "classify", "route", "notify", "smtp", "chat")
# Each a process of its own, as in production; the last one is the read-only ticket API.
COMMANDS = [*(("worker", w, "--instance-id", f"dev-{w}") for w in WORKERS), ("tickets", "api")]
# The agents' console, one more process beside the pipeline (not in COMMANDS: the benchmark
# runs the pipeline alone); it answers /healthz once it has read the topics to their end.
CONSOLE_COMMAND = ("console", "serve")
# Who signs in to the console in the demo (both in runtime/demo/routing.toml): an agent, who
# sees their own tickets, and a supervisor, who sees every ticket (/queue?scope=all).
CONSOLE_USERS = ("alice", "sophie")
CONSOLE_PASSWORD_BYTES = 12  # secrets.token_urlsafe: 16 characters
SUPPORT = "support@example.com"
DONE = {"created", "classified", "assigned", "ack-sent"}  # what the demo waits to see per ticket
WATCH_POLL_S = 0.3  # a poll of ticket.events while the demo waits
READY_POLL_S = 0.2  # between looks at the workers' /readyz
STOP_WAIT_S = 15.0  # a worker's time to stop on SIGTERM before it is killed
READY_PROBE_TIMEOUT_S = 2.0
WORKERS_READY_TIMEOUT_S = 120.0  # a cold start on a busy 2-core machine: JVM, tables, groups


@dataclass
class DevPorts:
    smtp_sink: int = field(default_factory=free_port)
    smtp_receiver: int = field(default_factory=free_port)
    chat: int = field(default_factory=free_port)
    tickets_api: int = field(default_factory=free_port)
    console: int = field(default_factory=free_port)
    # each worker's /healthz, /readyz and /metrics: the demo sends its samples only once every
    # worker is ready (a classify worker still starting made the SLA miss its classification)
    health: dict[str, int] = field(
        default_factory=lambda: {w: free_port() for w in WORKERS})


def write_config(path: Path, bootstrap: str, ports: DevPorts, prefix: str,
                 password_file: Path | None = None) -> None:
    """The dev config; the console's passwords in ``password_file`` (default: beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    passwords = password_file or path.parent / "console" / "passwords.json"
    path.write_text(f"""# written by `helpline dev`
[kafka]
bootstrap_servers = "{bootstrap}"
topic_prefix = "{prefix}"
partitions = 2

[observability]
log_format = "text"
log_level = "WARNING"

[email.receiver]
host = "127.0.0.1"
port = {ports.smtp_receiver}
mailbox = "support"
accepted_domains = ["example.com"]

[tickets]
own_addresses = ["{SUPPORT}"]
api_port = {ports.tickets_api}

[route]
config_file = "{DEMO / 'routing.toml'}"
classify_wait_seconds = 5

[notify]
own_addresses = ["{SUPPORT}"]
# longer than route's classify wait: the ack quotes the SLA's due time and office hours
sla_wait_s = 12
# agents' notices link to the ticket's page in the console
console_url = "http://127.0.0.1:{ports.console}"

[notify.default_mailbox]
address = "{SUPPORT}"
display_name = "Example Support"
timezone = "Europe/Paris"

[notify.smtp]
host = "127.0.0.1"
port = {ports.smtp_sink}

[chat]
host = "127.0.0.1"
port = {ports.chat}

[[chat.sites]]
id = "demo"
allowed_origins = ["self"]
availability = "online"
title = "Example Support"

[console]
host = "127.0.0.1"
port = {ports.console}
password_file = "{passwords}"
""", encoding="utf-8")


def make_console_passwords(password_file: Path, agents: Sequence[str]) -> dict[str, str]:
    """A fresh random password for each of ``agents``, stored as the console stores them
    (argon2, :class:`console.passwords.PasswordFile`); the passwords, to be printed once."""
    from console.passwords import PasswordFile

    passwords = PasswordFile(password_file)
    made = {a: secrets.token_urlsafe(CONSOLE_PASSWORD_BYTES) for a in agents}
    for agent_id, password in made.items():
        passwords.set(agent_id, password)
    return made


class SmtpSink:
    """Your outgoing mail server, for the demo: keeps and prints the headers of what it is
    given (only the headers are parsed: a whole message with the default policy cost ~1 ms of
    CPU, more than a pipeline stage's share of a message)."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        sink = self
        headers = BytesHeaderParser(policy=default_policy)

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                msg = headers.parsebytes(envelope.content)
                sink.messages.append(msg)
                typer.echo(f"  [smtp sink] mail to {', '.join(envelope.rcpt_tos)}: "
                           f"{msg['Subject']}  (Auto-Submitted: {msg['Auto-Submitted']})")
                body = msg.get_body(("plain",))
                if body is not None:  # what the customer or the agent reads
                    for line in body.get_content().strip().splitlines():
                        typer.echo(f"      | {line}")
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends it SIGTERM when ``helpline dev`` dies, even by
    SIGKILL, so no worker outlives the command that started it (Linux; elsewhere a no-op)."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop_on_signal(signum: int, _frame: object) -> None:
    # SIGTERM (a ``kill``) and SIGHUP (a closed terminal) end ``helpline dev`` the way Ctrl-C
    # does: by unwinding, so the workers get SIGTERM and are waited for before it exits.
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def workers(config: Path, log_dir: Path, health: Mapping[str, int] | None = None,
            extra: Sequence[tuple[str, ...]] = ()) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start every worker (and the ticket API), then ``extra`` commands (the console);
    ``health`` gives a worker its health port."""
    procs: list[subprocess.Popen[bytes]] = []
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for args in (*COMMANDS, *extra):
            name = args[1] if args[0] == "worker" else args[0]
            log = open(log_dir / f"{name}.log", "wb")
            env = dict(os.environ)
            if health and args[0] == "worker" and args[1] in health:
                env["HELPLINE_OBSERVABILITY__HTTP_PORT"] = str(health[args[1]])
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "runtime.cli", "--config", str(config), *args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                preexec_fn=_die_with_parent))
            log.close()
        yield procs
    finally:
        stop_processes(procs, STOP_WAIT_S)


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], wait_s: float) -> None:
    """SIGTERM to every process still running, then up to ``wait_s`` each to stop on its own
    before SIGKILL."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(wait_s)
        except subprocess.TimeoutExpired:
            p.kill()


def _helpline(config: Path, *args: str, quiet: bool = False) -> None:
    subprocess.run([sys.executable, "-m", "runtime.cli", "--config", str(config), *args],
                   check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL if quiet else None)


def worker_ready_urls(ports: DevPorts) -> dict[str, str]:
    """Where each worker says it is ready: its ``/readyz``."""
    return {w: f"http://127.0.0.1:{p}/readyz" for w, p in ports.health.items()}


def ready_urls(ports: DevPorts) -> dict[str, str]:
    """The workers' readiness URLs and the console's ``/healthz`` (served once it has read the
    ticket and agent topics to their end)."""
    return {**worker_ready_urls(ports), "console": f"http://127.0.0.1:{ports.console}/healthz"}


def wait_ready(urls: Mapping[str, str], timeout_s: float) -> list[str]:
    """Wait until every process's readiness URL answers 200; the ones still not ready."""
    import httpx

    waiting = dict(urls)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=READY_PROBE_TIMEOUT_S) as http:
        while waiting and time.monotonic() < deadline:
            for name, url in list(waiting.items()):
                try:
                    if http.get(url).status_code == 200:
                        del waiting[name]
                except httpx.HTTPError:
                    pass  # not listening yet
            if waiting:
                time.sleep(READY_POLL_S)
    return sorted(waiting)


def send_sample_email(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail("camille.durand@example.org", [SUPPORT], (DEMO / "sample.eml").read_bytes())


def send_sample_chat(port: int) -> str:
    import httpx

    base = f"http://127.0.0.1:{port}/v1/sites/demo"
    origin = {"Origin": f"http://127.0.0.1:{port}"}
    with httpx.Client(timeout=30) as http:
        started = http.post(f"{base}/conversations", headers=origin,
                            json={"name": "Sam Visitor", "email": "sam@example.net",
                                  "locale": "en"})
        started.raise_for_status()
        conv = started.json()
        posted = http.post(
            f"{base}/conversations/{conv['conversation_id']}/messages",
            headers={**origin, "Authorization": f"Bearer {conv['visitor_token']}"},
            json={"message_id": uuid.uuid4().hex, "text": "Hi! My order #1234 has not arrived.",
                  # like the widget: the contact travels with each message
                  "name": "Sam Visitor", "email": "sam@example.net", "locale": "en"})
        posted.raise_for_status()
        return str(conv["conversation_id"])


async def watch_tickets(conn: Any, want: int, timeout_s: float) -> dict[str, set[str]]:
    """Print ticket events as they arrive; return kinds seen per ticket number."""
    from runtime.topic_io import KafkaTopicReader
    from schemas.topics import TICKET_EVENTS

    reader = await KafkaTopicReader(conn, [TICKET_EVENTS], timeout_s).open()
    kinds: dict[str, set[str]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for r in await reader.poll(WATCH_POLL_S):
                ev = r.value
                if ev is None:  # a tombstone or a record that does not decode
                    continue
                kinds.setdefault(ev.ticket_number, set()).add(ev.kind)
                typer.echo(f"  [{ev.ticket_number}] {ev.kind:<15} {_describe(ev)}")
            done = [n for n, k in kinds.items() if DONE <= k]
            if len(done) >= want:
                break
    finally:
        await reader.close()
    return kinds


def _describe(ev: Any) -> str:
    p = ev.payload
    match ev.kind:
        case "created":
            return f"{p.channel} from {p.requester.name or p.requester.address}: {p.subject!r}"
        case "message-added":
            return f"{p.direction} {p.channel} message ({len(p.text)} chars)"
        case "classified":
            rules = ", ".join(r.rule_id for r in p.matched_rules) or "no rule"
            return (f"category={p.category} priority={p.priority} team={p.team} "
                    f"language={p.language} (rules: {rules}; model: {_model_said(p)})")
        case "assigned":
            return f"to {p.agent_id} (team {p.team}, {p.strategy})"
        case "sla-applied":
            return f"policy {p.policy}, first response due {p.first_response_due}"
        case "ack-sent":
            return f"auto-acknowledgement sent by {p.channel}"
        case _:
            return ""


def _model_said(p: Any) -> str:
    """What the model predicted, beside the rules: ``category hardware 0.91`` (or why not)."""
    if not p.predictions:
        return p.model_status or "none"
    return ", ".join(
        f"{m.target} {m.label or m.best_guess} {m.confidence:.2f}"
        + (f" abstained: {m.reason}" if m.abstained else "") for m in p.predictions)


def run_dev(settings: Any, demo_only: bool, timeout_s: float) -> int:
    from runtime.kafka import KafkaCluster, fetch, local_cluster, project_root, state_dir
    from schemas.stage import KafkaConnection

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    root = project_root()
    dev_dir = root / ".cache" / "dev"
    bootstrap = settings.kafka.bootstrap_servers
    if not bootstrap:
        cluster = local_cluster(settings)
        if cluster is None:
            typer.echo("starting Apache Kafka (KRaft) on loopback ...")
            libs = fetch(settings.local_kafka, root)
            cluster = KafkaCluster(libs=libs, base_dir=state_dir(settings),
                                   heap=settings.local_kafka.heap)
            cluster.start()
            cluster.save()
        bootstrap = cluster.bootstrap
    typer.echo(f"Kafka: {bootstrap}")
    ports = DevPorts()
    prefix = f"dev{int(time.time())}."  # a fresh namespace per run: the demo starts clean
    config = dev_dir / "helpline.toml"
    write_config(config, bootstrap, ports, prefix)
    _helpline(config, "topics", "create")
    _helpline(config, "rules", "push", str(DEMO / "rules.toml"))
    # the agent directory, which the console signs in against (route reads it too)
    _helpline(config, "agents", "push", str(DEMO / "routing.toml"), quiet=True)
    console_passwords = make_console_passwords(dev_dir / "console" / "passwords.json",
                                               CONSOLE_USERS)
    # a category model trained now, from the small set the project ships, and pushed as an
    # operator would: the classify worker verifies it and loads it from the models topic
    typer.echo("training the demo category model (classify/examples/training.csv) ...")
    _helpline(config, "model", "train", "--data", str(DEMO_TRAINING), "--text-col", "subject",
              "--text-col", "body", "--label-col", "category", "--out", str(dev_dir / "model"),
              quiet=True)
    _helpline(config, "model", "push", str(dev_dir / "model"))
    conn = KafkaConnection(bootstrap_servers=bootstrap, topic_prefix=prefix)
    with SmtpSink(ports.smtp_sink) as sink, \
            workers(config, dev_dir / "logs", ports.health, (CONSOLE_COMMAND,)) as procs:
        not_ready = wait_ready(ready_urls(ports), WORKERS_READY_TIMEOUT_S)
        if not_ready:
            typer.echo(f"workers not ready: {', '.join(not_ready)}; see {dev_dir / 'logs'}",
                       err=True)
            return 1
        typer.echo(f"workers ready: {', '.join(WORKERS)}, console (logs in {dev_dir / 'logs'}; "
                   f"health: {', '.join(f'{w} :{p}' for w, p in ports.health.items())})")
        typer.echo("sending a sample email through the SMTP receiver ...")
        send_sample_email(ports.smtp_receiver)
        typer.echo("sending a sample chat message through the chat API ...")
        send_sample_chat(ports.chat)
        kinds = asyncio.run(watch_tickets(conn, want=2, timeout_s=timeout_s))
        acked = sorted(n for n, k in kinds.items() if "ack-sent" in k)
        complete = sorted(n for n, k in kinds.items() if DONE <= k)
        typer.echo(f"\n{len(kinds)} ticket(s) made, {len(complete)} classified and assigned, "
                   f"{len(acked)} acknowledged; {len(sink.messages)} mail(s) in the SMTP sink.")
        typer.echo(f"Chat widget demo page: http://127.0.0.1:{ports.chat}/demo")
        typer.echo(f"Ticket API:            http://127.0.0.1:{ports.tickets_api}/tickets  "
                   f"(helpline tickets api --config {config})")
        typer.echo(f"Agents' console:       http://127.0.0.1:{ports.console}/login")
        for agent_id, password in console_passwords.items():
            typer.echo(f"  sign in as {agent_id:<8} password {password}")
        ok = len(complete) >= 2
        if demo_only:
            return 0 if ok else 1
        typer.echo("Running. Ctrl-C stops the workers (the broker keeps running: "
                   "`helpline kafka down`).")
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        return 0 if ok else 1


def register(app: typer.Typer, get_settings: Any) -> None:
    @app.command("dev")
    def dev(
        demo_only: bool = typer.Option(False, "--demo-only",
                                       help="exit after the demo instead of running on"),
        timeout_s: float = typer.Option(120.0, "--timeout", help="seconds to wait for tickets"),
    ) -> None:
        """Run the whole pipeline locally and make a ticket from a sample email and chat."""
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        raise typer.Exit(run_dev(get_settings(), demo_only, timeout_s))
