"""The one error tree (schemas.errors): every exception class helpline defines belongs to it,
``retriable`` is a class attribute with the value its module documents, and the constructors
that take ``retriable=`` pick the matching class."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from schemas.errors import (
    DeliveryError,
    HelplineError,
    RetriableStageError,
    StageError,
    TemporaryDeliveryError,
)

PACKAGES = ("schemas", "runtime", "ingest", "tickets", "classify", "route", "notify")

# Every class of the tree and whether it is retriable, as schemas/errors.py documents it.
EXPECTED: dict[str, bool] = {
    "schemas.errors.HelplineError": False,
    "schemas.errors.ConfigError": False,
    "schemas.errors.MissingTool": False,
    "schemas.errors.BrokerUnavailable": True,
    "schemas.errors.RecordTooLarge": False,
    "runtime.writer.Fenced": False,
    "schemas.errors.StageError": False,
    "schemas.errors.RetriableStageError": True,
    "schemas.errors.DeliveryError": False,
    "schemas.errors.TemporaryDeliveryError": True,
    "schemas.errors.JournalUnavailable": True,
    "schemas.codec.DecodeError": False,
    "schemas.stage.NoSuchRecord": False,
    "ingest.mime.parse.UnparseableEmail": False,
    "ingest.mime.stage.UnexpectedRecord": False,
    "ingest.mime.attachments_cli.AttachmentUnavailable": False,
    "ingest.chat.payloads.Rejection": False,
    "ingest.imap.session.ImapFailure": False,
    "ingest.imap.session.AuthRejected": False,
    "ingest.imap.session.ConnectionProblem": True,
    "ingest.imap.auth.TokenUnavailable": False,
    "ingest.imap.auth.TokenEndpointDown": True,
    "ingest.imap.connector.PublishFailed": True,
    "ingest.imap.checkpoint.StateError": False,
    "tickets.commands.InvalidCommand": False,
    "tickets.state.UnknownTicket": False,
    "tickets.api_actions.ActionRejected": False,
    "tickets.directory_file.DirectoryFileError": False,
    "classify.conditions.ConditionError": False,
    "classify.model.ModelLoadError": False,
    "classify.model_topic.ModelRefused": False,
    "classify.publish.PublishError": True,
    "notify.render.TemplateMissing": False,
}


def _all_modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        mod = importlib.import_module(package)
        names.append(package)
        names.extend(m.name for m in pkgutil.walk_packages(mod.__path__, prefix=f"{package}."))
    return names


def _our_exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _all_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__ == name):
                found[f"{name}.{value.__qualname__}"] = value
    return found


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _tree() -> dict[str, type[HelplineError]]:
    out: dict[str, type[HelplineError]] = {}
    todo: list[type[HelplineError]] = [HelplineError]
    while todo:
        cls = todo.pop()
        if cls.__module__.split(".")[0] in PACKAGES:
            out[_qualname(cls)] = cls
        todo.extend(cls.__subclasses__())
    return out


def test_every_exception_class_of_ours_is_in_the_tree() -> None:
    classes = _our_exception_classes()
    outside = sorted(name for name, cls in classes.items()
                     if not issubclass(cls, HelplineError)
                     and not cls.__qualname__.startswith("_"))  # private control-flow signals
    assert outside == []


def test_the_tree_is_the_documented_one() -> None:
    _our_exception_classes()  # import every module, so every subclass is defined
    assert set(_tree()) == set(EXPECTED)


@pytest.mark.parametrize(("name", "retriable"), sorted(EXPECTED.items()))
def test_retriable_per_class(name: str, retriable: bool) -> None:
    _our_exception_classes()
    cls = _tree()[name]
    assert cls.retriable is retriable


def test_delivery_error_picks_its_class_from_the_reply() -> None:
    temporary = DeliveryError("busy", retriable=True, server_reply="451 later", code=451)
    permanent = DeliveryError("no", retriable=False, server_reply="550 no", code=550)
    assert type(temporary) is TemporaryDeliveryError and temporary.retriable
    assert type(permanent) is DeliveryError and not permanent.retriable
    assert (str(temporary), temporary.server_reply, temporary.code) == ("busy", "451 later", 451)
    assert isinstance(temporary, DeliveryError) and isinstance(temporary, HelplineError)


def test_stage_error_picks_its_class() -> None:
    assert type(StageError("x")) is StageError and not StageError("x").retriable
    again = StageError("later", retriable=True)
    assert type(again) is RetriableStageError and again.retriable and str(again) == "later"


def test_builtin_bases_are_kept() -> None:
    from schemas.codec import DecodeError
    from tickets.commands import InvalidCommand

    assert issubclass(DecodeError, ValueError) and issubclass(InvalidCommand, ValueError)


def test_old_import_paths_still_work() -> None:
    import notify.transport
    import runtime.errors
    import schemas.errors

    assert runtime.errors.HelplineError is schemas.errors.HelplineError
    assert runtime.errors.BrokerUnavailable is schemas.errors.BrokerUnavailable
    assert notify.transport.DeliveryError is schemas.errors.DeliveryError
    assert notify.transport.JournalUnavailable is schemas.errors.JournalUnavailable
