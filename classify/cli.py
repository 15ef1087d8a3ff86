"""``helpline rules …`` and ``helpline model …``: operators' commands for classification."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from schemas.stage import StageContext

if TYPE_CHECKING:
    from classify.rules import Ruleset
    from classify.rules_loader import RuleFormat

DataOpt = Annotated[Path, typer.Option("--data", help="CSV file with a header row",
                                       exists=True, dir_okay=False)]
TextOpt = Annotated[list[str], typer.Option("--text-col", help="text column; repeat to join "
                                                              "several (e.g. subject and body)")]
LabelOpt = Annotated[str, typer.Option("--label-col", help="the label column")]
ModelOpt = Annotated[Path, typer.Option("--model", help="a directory written by `model train` "
                                                        "(joblib weights: trusted paths only)")]
RulesFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                           help="a rules file, TOML or YAML")]
AgainstOpt = Annotated[str | None, typer.Option(
    "--against", help="try it on the ticket history of this span first (30d, 12h): how "
                      "many tickets would change category, team or priority")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", help="toml or yaml (default: yaml for .yaml/.yml files, else toml)")]


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _get_ctx(cli: typer.Context) -> StageContext:
    """The stage context: ``register`` puts its ``get_ctx`` on the click context's obj."""
    get_ctx: Callable[[], StageContext] = cli.obj
    return get_ctx()


def check(cli: typer.Context, file: RulesFile, fmt: FormatOpt = None,
          against: AgainstOpt = None) -> None:
    """Compile a rules file; print every error with its line and column (exit 1 if any).
    With --against 30d: how many tickets of that history it would classify differently."""
    source, chosen = _read_rules(file, fmt)
    rs = _compiled(file, source, chosen, "default")
    typer.echo(f"{file}: ok, {len(rs.rules)} rules, mode {rs.mode}, version {rs.version}")
    if against is not None:
        def use_rules(stage: Any) -> None:
            stage.ruleset = rs

        with _reported():
            _print_json(_what_if(_get_ctx(cli), against, use_rules))


def push(
    cli: typer.Context,
    file: RulesFile,
    name: Annotated[str | None, typer.Option(
        "--name", help="ruleset name (default: [ruleset] name, else the stage's)")] = None,
    fmt: FormatOpt = None,
) -> None:
    """Check a rules file, then publish it to the rules topic; the classify stage reloads
    it. A file with errors is not published."""
    from classify.publish import PublishError, publish_ruleset
    from classify.rules_loader import content_version
    from schemas.directory import RulesetRecord

    source, file_format = _read_rules(file, fmt)
    ruleset = _compiled(file, source, file_format, "")  # "": no name declared in the file
    ctx = _get_ctx(cli)
    chosen = name or ruleset.name or ctx.section("classify").ruleset_name
    record = RulesetRecord(name=chosen, version=content_version(source), source=source,
                           format=file_format, pushed_at=datetime.now(UTC))
    try:
        asyncio.run(publish_ruleset(ctx.topics, record))
    except PublishError as exc:
        typer.echo(f"helpline: rules not pushed: {exc}", err=True)
        raise SystemExit(1) from None
    typer.echo(f"pushed ruleset {chosen!r} version {record.version} "
               f"({len(ruleset.rules)} rules, {file_format})")


def train(cli: typer.Context, text_col: TextOpt, label_col: LabelOpt,
          out: Annotated[Path, typer.Option("--out", help="directory to write the model")],
          data: Annotated[Path | None, typer.Option(
              "--data", help="CSV file with a header row (with --from-topic: the cold "
                             "start)", exists=True, dir_okay=False)] = None,
          target: Annotated[str, typer.Option(
              help="ticket field predicted: category, department, priority, type")]
          = "category",
          from_topic: Annotated[bool, typer.Option(
              "--from-topic", help="add the desk's own labelled tickets: agents' "
                                   "corrections on the model.examples topic")] = False,
          holdout: Annotated[float, typer.Option(
              help="fraction held out (stratified) and scored after training")] = 0.0,
          target_precision: Annotated[float, typer.Option(
              help="precision wanted when not abstaining; sets the threshold")] = 0.95,
          features: Annotated[str, typer.Option(
              help="words+chars (most accurate) or words (faster on long text)")]
          = "words+chars",
          seed: int = 13) -> None:
    """Train on labelled tickets; print the model card (and held-out scores) as JSON.
    With --from-topic, also on agents' corrections, and print per-class drift."""
    from classify.evaluation import read_labelled_csv, score
    from classify.model import TrainingOptions, save_model, train_model

    with _reported():
        texts: list[str] = []
        labels: list[str] = []
        if data is not None:
            texts, labels = read_labelled_csv(data, text_col, label_col)
        report: dict[str, Any] = {}
        desk: tuple[list[str], list[str]] = ([], [])
        if from_topic:
            from classify.learning import drift, read_examples

            ctx = _get_ctx(cli)
            examples = asyncio.run(read_examples(
                ctx.topics, target, ctx.section("classify").model_push_timeout_s))
            report["drift"] = drift(labels, examples)
            desk = ([x.text for x in examples], [x.label for x in examples])
        elif data is None:
            raise ValueError("give --data, --from-topic, or both")
        held: tuple[list[str], list[str]] = ([], [])
        if holdout > 0:
            from sklearn.model_selection import train_test_split

            texts, x_test, labels, y_test = train_test_split(
                texts, labels, test_size=holdout, random_state=seed, stratify=labels)
            held = (x_test, y_test)
        options = TrainingOptions(target=target, target_precision=target_precision, seed=seed,
                                  features=features)
        trained = train_model([*texts, *desk[0]], [*labels, *desk[1]], options)
        card = save_model(trained, out)
        report = {"model": asdict(card), **report}
        if held[0]:
            report["holdout"] = score(trained.predict(held[0]), held[1])
        if desk[0]:  # in-sample: how much of the desk's corrections the model now follows
            report["desk_examples_fit"] = score(trained.predict(desk[0]), desk[1])
        _print_json(report)


def evaluate(data: DataOpt, text_col: TextOpt, label_col: LabelOpt, model_dir: ModelOpt,
             out_of_scope: Annotated[Path | None, typer.Option(
                 help="CSV of unrelated text: how often the model abstains on it")] = None,
             out_of_scope_col: Annotated[str, typer.Option(
                 help="text column of --out-of-scope")] = "text") -> None:
    """Score a model on labelled data: accuracy, macro-F1, per-class precision/recall,
    confusion matrix, abstention (JSON)."""
    from classify.evaluation import abstention_on, open_set, read_labelled_csv, score
    from classify.model import load_model

    with _reported():
        loaded = load_model(model_dir)
        texts, labels = read_labelled_csv(data, text_col, label_col)
        report = score(loaded.predict(texts), labels)
        report["model_version"] = loaded.card.version
        if out_of_scope is not None:
            oos, _ = read_labelled_csv(out_of_scope, [out_of_scope_col], None)
            report["out_of_scope"] = abstention_on(loaded, oos)
            report["open_set"] = open_set(loaded, texts, oos)
        _print_json(report)


def predict(data: DataOpt, text_col: TextOpt, model_dir: ModelOpt,
            batch: Annotated[int, typer.Option(min=1, help="rows per batch")] = 1000) -> None:
    """One JSON object per row: label (null when abstained), confidence, abstained."""
    from classify.evaluation import read_labelled_csv
    from classify.model import load_model

    with _reported():
        loaded = load_model(model_dir)
        texts, _ = read_labelled_csv(data, text_col, None)
        for start in range(0, len(texts), batch):
            for p in loaded.predict(texts[start:start + batch]):
                sys.stdout.write(orjson.dumps({
                    "label": p.label, "confidence": round(p.confidence, 4),
                    "abstained": p.abstained, "best_guess": p.best_guess, "reason": p.reason,
                }).decode() + "\n")


def push_model_cmd(
    cli: typer.Context,
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                              help="a directory written by `model train`")],
    name: Annotated[str | None, typer.Option(
        "--name", help="model slot (default: the card's target, e.g. category)")] = None,
    shadow: Annotated[bool, typer.Option(
        "--shadow", help="run beside the active model without acting; "
                         "`model promote NAME` makes it active")] = False,
) -> None:
    """Sign a trained model and publish it to the models topic; classify workers verify
    the signature and their library versions, then hot-reload it."""
    from classify.model import read_card
    from classify.model_push import push_model, read_model_dir
    from classify.publish import PublishError
    from classify.stage import model_signing_key

    ctx = _get_ctx(cli)
    settings = ctx.section("classify")
    with _reported():
        card_text, weights = read_model_dir(directory)
        card = read_card(card_text, str(directory))
        slot = name or card.target
        try:
            manifest = asyncio.run(push_model(
                ctx.topics, slot, card_text, weights,
                model_signing_key(settings, ctx.signing_key),
                "shadow" if shadow else "active", datetime.now(UTC),
                settings.model_chunk_bytes, settings.model_push_timeout_s))
        except PublishError as exc:
            typer.echo(f"helpline: model not pushed: {exc}", err=True)
            raise SystemExit(1) from None
        typer.echo(f"pushed model {slot!r} version {manifest.version} "
                   f"({'shadow' if shadow else 'active'}, target {card.target}, "
                   f"{len(weights)} bytes in {manifest.count} chunks)")


def compare(cli: typer.Context, model_dir: Annotated[Path, typer.Argument(
                exists=True, file_okay=False, help="a directory written by `model train` "
                "(joblib weights: trusted paths only)")],
            against: AgainstOpt = "30d") -> None:
    """What a candidate model would change over history, beside what runs now (the rules
    and models on their topics): tickets whose category, team or priority would differ,
    with examples."""
    from classify.model import load_model
    from classify.what_if import with_model

    with _reported():
        candidate = load_model(model_dir)

        def use_model(stage: Any) -> None:
            with_model(stage, candidate)

        _print_json({"model": candidate.card.version, "target": candidate.card.target,
                     **_what_if(_get_ctx(cli), against or "30d", use_model)})


def promote(cli: typer.Context,
            name: Annotated[str, typer.Argument(help="the model slot")]) -> None:
    """Make the shadow model of NAME the active one (the same signed model)."""
    from classify.model_push import promote_shadow

    ctx = _get_ctx(cli)
    with _reported():
        manifest = asyncio.run(promote_shadow(
            ctx.topics, name, ctx.section("classify").model_push_timeout_s))
        typer.echo(f"model {name!r} version {manifest.version} is now active")


def register(app: typer.Typer, get_ctx: Callable[[], StageContext]) -> None:
    # The commands find get_ctx as the click context's obj (inherited by every subcommand).
    settings = {"obj": get_ctx}
    rules = typer.Typer(help="Classification rules: check and publish rules files.",
                        no_args_is_help=True, context_settings=settings)
    model = typer.Typer(help="The ML classifier: train, evaluate, predict.", no_args_is_help=True,
                        context_settings=settings)
    rules.command("check")(check)
    rules.command("push")(push)
    model.command("train")(train)
    model.command("evaluate")(evaluate)
    model.command("predict")(predict)
    model.command("push")(push_model_cmd)
    model.command("compare")(compare)
    model.command("promote")(promote)
    app.add_typer(rules, name="rules")
    app.add_typer(model, name="model")


@contextmanager
def _reported() -> Iterator[None]:
    """Bad input (a missing column, an unreadable or tampered model) is a one-line error and
    exit code 1, not a traceback."""
    from classify.model import ModelLoadError

    try:
        yield
    except (ValueError, OSError, ModelLoadError) as exc:
        typer.echo(f"helpline: {exc}", err=True)
        raise SystemExit(1) from None


def _what_if(ctx: StageContext, against: str, change: Callable[[Any], None]
             ) -> dict[str, Any]:
    """The classify stage as configured now and as changed, over the last ``against``."""
    from classify.stage import build_stage
    from classify.what_if import parse_span, what_if

    span = parse_span(against)
    settings = ctx.section("classify").model_copy(update={"learn_from_agents": False})
    stages = [build_stage(replace(ctx, sections=_Sections(ctx.sections, settings)))
              for _ in range(2)]
    return asyncio.run(what_if(ctx.topics, stages[0], stages[1], span, datetime.now(UTC),
                               settings.model_push_timeout_s, change))


class _Sections:
    """``ctx.sections`` with another [classify] section."""

    def __init__(self, sections: Any, classify: Any) -> None:
        self._sections, self.classify = sections, classify

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sections, name)


def _read_rules(file: Path, fmt: str | None) -> tuple[str, RuleFormat]:
    """The file's text and format (``--format``, else by its name); exit 1 on a bad one."""
    from classify.rules_loader import FORMATS, format_of

    chosen = format_of(file) if fmt is None else fmt.lower()
    if chosen not in FORMATS:
        typer.echo(f"helpline: --format {fmt}: use {' or '.join(FORMATS)}", err=True)
        raise SystemExit(1)
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise SystemExit(1) from None
    return source, "yaml" if chosen == "yaml" else "toml"


def _compiled(file: Path, source: str, fmt: RuleFormat, name: str) -> Ruleset:
    """The compiled ruleset, or every error as ``FILE:line:col: path: reason`` and exit 1."""
    from classify.rules_loader import load_rules

    checked = load_rules(source, name, fmt)
    if checked.ruleset is None:
        for error in checked.errors:
            typer.echo(f"{file}:{error}", err=True)
        raise SystemExit(1)  # runtime.cli drops typer.Exit codes (standalone_mode=False)
    return checked.ruleset
