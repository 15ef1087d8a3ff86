"""HTML-only mail becomes readable text; quoted HTML history is marked like ``>`` quotes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mime.html import html_to_text


def test_blocks_lists_breaks_entities_and_hidden_content() -> None:
    html = (
        "<html><head><title>t</title><style>p{}</style><script>alert(1)</script></head><body>"
        "<h1>Order</h1><p>Hello&nbsp;there,<br>line two</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>Qty</td><td>2</td></tr><tr><td>Total</td><td>9 &euro;</td></tr></table>"
        "<!-- a comment --><p>Bye</p></body></html>"
    )
    assert html_to_text(html) == (
        "Order\n\nHello there,\nline two\n\n- one\n- two\nQty 2\nTotal 9 €\n\nBye"
    )


def test_blockquotes_and_client_quote_containers_are_prefixed() -> None:
    text = html_to_text(
        "<div>New text</div><blockquote><p>old</p><blockquote>older</blockquote></blockquote>"
    )
    assert text.splitlines()[0] == "New text"
    assert "> old" in text and "> > older" in text
    outlook = html_to_text('<p>Reply</p><div id="divRplyFwdMsg"><p>From: x</p></div>')
    assert outlook.splitlines()[-1] == "> From: x"


def test_client_signature_blocks_get_the_delimiter() -> None:
    text = html_to_text(
        "<div>Hi there</div><div class=gmail_signature><div>Jane Roe<br>ACME</div></div>"
    )
    assert text == "Hi there\n-- \nJane Roe\nACME"


def test_links_keep_their_address_once() -> None:
    text = html_to_text(
        '<p>See <a href="https://ex.com/doc?id=1">this page</a>, <a href="https://ex.com">'
        'https://ex.com</a>, <a href="mailto:a@b.c">mail us</a></p>'
    )
    assert text == "See this page <https://ex.com/doc?id=1>, https://ex.com, mail us"


def test_pre_keeps_line_breaks() -> None:
    assert html_to_text("<pre>a\n  b\nc</pre>") == "a\n  b\nc"


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    assert html_to_text("<div>" * 20000 + "deep" + "</div>" * 20000) == "deep"


def test_hr_becomes_a_rule() -> None:
    assert html_to_text("<p>a</p><hr><p>b</p>").splitlines()[2].startswith("____")


@given(st.text(max_size=300))
@settings(deadline=None)
def test_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)
