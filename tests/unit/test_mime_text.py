"""Charset handling: declarations trusted when the bytes agree, fallbacks when they lie."""

from __future__ import annotations

import codecs
import encodings.aliases

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mime.text import codec_for, decode_bytes, repair

FRENCH = "Bonjour, je n'ai pas reçu ma commande passée. Où en est-elle ? Hélène"
RUSSIAN = "Здравствуйте, я не получил свой заказ, помогите пожалуйста разобраться."


@pytest.mark.parametrize(
    ("declared", "expected"),
    [("utf-8", "utf-8"), ("UTF8", "utf-8"), ("iso-8859-1", "cp1252"), ("gb2312", "gb18030"),
     ("ks_c_5601-1987", "cp949"), ("unicode-1-1-utf-7", "utf-7"), ("x-unknown", None),
     ("bogus-charset", None), ("", None), (None, None), ('"windows-1251"', "cp1251")],
)
def test_codec_for(declared: str | None, expected: str | None) -> None:
    assert codec_for(declared) == expected


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (FRENCH.encode("utf-8"), "utf-8", FRENCH),
        (FRENCH.encode("latin-1"), "utf-8", FRENCH),  # Latin-1 labelled UTF-8
        (FRENCH.encode("latin-1"), None, FRENCH),  # undeclared
        (FRENCH.encode("utf-8"), "iso-8859-1", FRENCH),  # UTF-8 labelled Latin-1
        (FRENCH.encode("cp1252"), "bogus", FRENCH),
        ("l’été “chaud” – 5 €".encode("cp1252"), "iso-8859-1", "l’été “chaud” – 5 €"),
        (RUSSIAN.encode("koi8-r"), "koi8-r", RUSSIAN),
        (RUSSIAN.encode("cp1251"), "windows-1251", RUSSIAN),
        (RUSSIAN.encode("utf-8"), None, RUSSIAN),
        ("日本語のテキストです。".encode("iso-2022-jp"), "iso-2022-jp", "日本語のテキストです。"),
        ("中文邮件内容测试".encode("gb18030"), "gb2312", "中文邮件内容测试"),
        (b"plain ascii", "us-ascii", "plain ascii"),
        (b"", "utf-8", ""),
    ],
)
def test_decode_bytes(data: bytes, declared: str | None, expected: str) -> None:
    assert decode_bytes(data, declared) == expected


def test_undeclared_cyrillic_is_not_taken_for_latin() -> None:
    text = decode_bytes(RUSSIAN.encode("cp1251"), None)
    assert sum("а" <= c <= "я" for c in text.lower()) > 30


def test_every_codec_python_knows_round_trips_when_declared() -> None:
    sample = "Support ticket 42: hello"
    for name in sorted(set(encodings.aliases.aliases.values())):
        try:
            codecs.lookup(name)
            data = sample.encode(name)
            codecs.getincrementaldecoder(name)
        except (LookupError, UnicodeError, TypeError, ValueError):
            continue  # bytes-to-bytes codecs (base64, zlib …) and odd ones
        if not isinstance(data, bytes) or codec_for(name) is None:
            continue
        assert decode_bytes(data, name) == sample, name


@given(st.binary(max_size=400), st.sampled_from([None, "utf-8", "us-ascii", "x-weird",
                                                 "iso-2022-jp", "utf-16", "koi8-r"]))
@settings(deadline=None)
def test_decode_never_raises_and_is_wire_safe(data: bytes, declared: str | None) -> None:
    text = repair(decode_bytes(data, declared))
    text.encode("utf-8")  # no lone surrogates


def test_repair_surrogates_and_controls() -> None:
    escaped = "caf\udce9".encode("utf-8", errors="surrogateescape").decode(
        "utf-8", errors="surrogateescape"
    )
    assert repair(escaped) == "café"
    assert repair("a\x00b\x07c\td") == "abc\td"
    assert repair("\ud800x") == "\ufffdx"


def test_format_flowed_is_unwrapped() -> None:
    from ingest.mime.text import unflow

    flowed = "Hello this is a \r\nlong line.\r\n\r\n-- \r\nSig\r\n> quoted soft \r\n> more\r\n From"
    assert unflow(flowed) == "Hello this is a long line.\n\n-- \nSig\n> quoted soft more\nFrom"
    assert unflow("ab \r\ncd", delsp=True) == "abcd"
    assert unflow("no soft breaks\nhere") == "no soft breaks\nhere"
