"""Separate what the customer just wrote from the quoted history and the signature. Pure.

Recognized quote starts: "On … wrote:" and its translations (also split over up to three
lines), "-----Original Message-----" and translations, Outlook header blocks ("From:/De :/Von:"
followed by "Sent:/Date:/To:/Objet :" lines, with or without the "____" rule above them),
forwarded-message banners, and ``>`` quoted blocks. Signatures: the "-- " delimiter and
"Sent from my …" lines at the end of the new text.

The rule that wins every tie: never hide the customer's words. A ``>`` block followed by more
unquoted text is an inline reply and stays in the new text; when nothing new would be left,
the whole body is the new text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WROTE = re.compile(
    r"^[>\s-]*(?:on|le|am|el|il|op|den|på|em|w dniu|dne|\d{1,4}[./-])\b.{0,400}?"
    r"(?:wrote|writes|a écrit|a ecrit|schrieb|escribió|escribio|ha scritto|scrisse|schreef|"
    r"skrev|kirjoitti|escreveu|napisał|napsal|написал|написала|yazdı)\s*[:：]?[\s-]*$",
    re.IGNORECASE | re.DOTALL,
)
# "2014-03-20 8:48 GMT+01:00 Jane Doe <jane@example.com>:" (Gmail in several locales)
_DATED_SENDER = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b.{0,200}<[^<>\s]+@[^<>\s]+>\s*:$")
_ORIGINAL = re.compile(
    r"^[>\s]*[-_=*]{2,}\s*(?:original message|original e-?mail|message d'origine|"
    r"message original|ursprüngliche nachricht|originalnachricht|mensaje original|"
    r"messaggio originale|mensagem original|oorspronkelijk bericht|originalmeddelelse|"
    r"original meddelelse|oprindelig besked|originalmeddelande|opprinnelig melding|"
    r"alkuperäinen viesti|исходное сообщение|"
    r"forwarded message|message transféré|weitergeleitete nachricht|mensaje reenviado|"
    r"messaggio inoltrato|mensagem encaminhada|doorgestuurd bericht|videresendt melding|"
    r"reply above this line|répondez au-dessus de cette ligne|"
    r"below this line is a copy of the message|原始邮件|原始郵件|原始信件|元のメッセージ|"
    r"原文|원본 메시지|전달된 메시지|転送されたメッセージ|转发的邮件)\s*\.?\s*[-_=*]*\s*$",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(
    r"^[>\s]*\*?(?:from|de|von|da|van|från|fra|od|lähettäjä|от|feladó|kimden|"
    r"差出人|送信者|发件人|發件人|寄件者|寄件人|보낸 사람|보낸사람)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^[>\s]*\*?(?:sent|date|datum|envoyé|envoye|gesendet|data|enviado|enviada|verzonden|"
    r"skickat|sendt|lähetetty|отправлено|to|à|a|an|para|aan|till|til|до|kenen|subject|objet|"
    r"送信日時|日付|宛先|件名|发送时间|發送時間|日期|收件人|收件者|主题|主題|抄送|副本|寄件日期|"
    r"主旨|보낸 날짜|받는 사람|제목|참조|"
    r"betreff|oggetto|asunto|assunto|onderwerp|ämne|emne|aihe|тема|cc)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
# fields only a mail header block has (a journey or a form has From/To/Date too)
_MAIL_ONLY_FIELD = re.compile(
    r"^[>\s]*\*?(?:sent|envoyé|envoye|gesendet|enviado|enviada|verzonden|skickat|sendt|"
    r"lähetetty|отправлено|inviato|wysłano|odesláno|送信日時|发送时间|發送時間|寄件日期|"
    r"보낸 날짜|cc|subject|objet|betreff|oggetto|asunto|assunto|onderwerp|ämne|emne|aihe|тема|"
    r"temat|předmět|tárgy|konu|主题|主旨|件名|제목)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_FROM_ADDRESS = re.compile(r"@|\[mailto:|&lt;")
_RULE = re.compile(r"^\s*(?:_{8,}|={4,}|-{8,}|\*{8,})\s*$")
# the quoted sender's address, bracketed or right before the closing colon: a sentence that
# merely mentions an address and ends in a colon ("please write to a@b.c, and send:") is not one
_ANY_LANGUAGE_ATTRIBUTION = re.compile(
    r"^[>\s]*\S.{0,400}(?:<\s*[^<>\s]+@[^<>\s]+\s*>.{0,200}|[^\s<>,;]+@[^\s<>,;]+)[:：]$", re.DOTALL
)
_SENT_FROM = re.compile(
    r"^\s*(?:sent from|sent via|sent with|get outlook for|envoyé de|envoyé depuis|"
    r"envoyé à partir de|envoye de|télécharger outlook|von meinem|gesendet von|inviato da|"
    r"enviado desde|enviado do|enviado de|verzonden (?:vanaf|met)|skickat från|sendt fra|"
    r"lähetetty)\b.{0,80}$",
    re.IGNORECASE,
)
_SENT_FROM_MAX_WORDS = 8


# the same tag from clients set to Chinese, Japanese or Korean ("发自我的iPhone",
# "iPhoneから送信", "내 iPhone에서 보냄"), which have no word boundary to match on
_SENT_FROM_CJK = re.compile(
    r"^\s*(?:(?:发自|發自|从|從|来自|來自)我的\s?\S.{0,30}|"
    r"\S.{0,30}?\s?(?:から送信|에서 보냄|에서 보냈습니다))\s*$"
)


def _is_sent_from(line: str) -> bool:
    """A client's "Sent from my iPhone" tag: short, no clause after a comma. "Sent from your
    warehouse on 2 March according to the tracking page, nothing since." is a sentence."""
    if _SENT_FROM_CJK.match(line):
        return True
    if not _SENT_FROM.match(line):
        return False
    tag = re.sub(r"<[^>]*>|\bhttps?://\S+", " ", line).strip()
    return len(tag.split()) <= _SENT_FROM_MAX_WORDS and ", " not in tag


_LEAD_FIELD = re.compile(r"^\s*(?:message du|message from|sent|date|envoyé)\s*[:：]", re.I)
_SENT_FROM_TAIL = 3  # a "Sent from" line counts only among the last non-blank lines


@dataclass(frozen=True, slots=True)
class ReplyParts:
    text: str
    quoted: str
    signature: str


def _is_quote_header(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if not line:
        return False
    if _ORIGINAL.match(line) or _DATED_SENDER.match(line):
        return True
    low = line.lower()
    if any(w in low for w in ("on ", "le ", "am ", "el ", "il ", "op ", "den ", "på ", "em ")) or (
        low[:1].isdigit()
    ):
        window = line
        for j in range(i, min(i + 3, len(lines))):
            if j > i:
                window = f"{window} {lines[j].strip()}"
            if len(window) <= 500 and _WROTE.match(window) and _ends_attribution(window, lines, j):
                return True
    starts_paragraph = i == 0 or not lines[i - 1].strip() or line[:1].isdigit()
    if starts_paragraph and not _is_sent_from(line) and _attribution(lines, i):
        return True
    if _RULE.match(line):
        # "<hr>" then "From:/Date:/Subject:" (Hotmail, Outlook.com)
        following = [x for x in lines[i + 1 : i + 4] if x.strip()]
        return bool(following) and (
            _FROM_FIELD.match(following[0]) is not None
            or _HEADER_FIELD.match(following[0]) is not None
        )
    if _FROM_FIELD.match(line):
        fields = 0
        mail_only = False
        for j in range(i + 1, min(i + 6, len(lines))):
            if _HEADER_FIELD.match(lines[j]):
                fields += 1
                mail_only = mail_only or _MAIL_ONLY_FIELD.match(lines[j]) is not None
        # "From: Berlin / To: Munich / Date: 14 March" is a journey, not a quoted header
        return fields >= 1 and (mail_only or _FROM_ADDRESS.search(line) is not None)
    return False


def _ends_attribution(window: str, lines: list[str], j: int) -> bool:
    """"On Monday my colleague wrote" can be the start of the customer's own sentence; an
    attribution ends with its colon, or is followed by the quote itself (or a blank line)."""
    if window.rstrip(" -").endswith((":", "：")):
        return True
    following = lines[j + 1].strip() if j + 1 < len(lines) else ""
    return not following or following.startswith(">")


_DIGIT_OR_AT = re.compile(r"[\d@]")
_DIGIT = re.compile(r"\d")


def _attribution(lines: list[str], i: int) -> bool:
    """"<date> <name> <address> <verb>:" in any language: a paragraph of at most three lines
    that names an address, has a date or time in it, and ends with a colon."""
    window = ""
    for j in range(i, min(i + 3, len(lines))):
        part = lines[j].strip()
        if not part or (j > i and part.startswith(">") and part != ">:"):
            return False
        if j == i and _DIGIT_OR_AT.search(part) is None:
            return False  # an attribution starts with its date or the sender's address
        window = f"{window} {part}" if window else part
        if (
            window.endswith((":", "："))
            and _ANY_LANGUAGE_ATTRIBUTION.match(window)
            and _DIGIT.search(window) is not None
        ):
            return True
    return False


def _quote_start(lines: list[str]) -> int | None:
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        if line.lstrip().startswith(">"):
            j = i
            while j < n and (lines[j].lstrip().startswith(">") or not lines[j].strip()):
                j += 1
            if _only_tail_after(lines, j):
                return _with_rule_above(lines, i)
            i = j  # an inline reply: what follows the quote is new text, keep scanning
            continue
        if _is_quote_header(lines, i):
            return _with_rule_above(lines, i)
        if (i == 0 or not lines[i - 1].strip()) and _is_sent_from(line):
            # mobile clients put the history right under "Sent from my …", often headerless
            if any(rest.strip() for rest in lines[i + 1:]):
                return i + 1
        i += 1
    return None


def _with_rule_above(lines: list[str], i: int) -> int:
    """Move the quote start up over the rule and the "Message du :" line some clients put
    above the quoted header block."""
    start = i
    k = i - 1
    while k >= 0 and i - k <= 4:
        line = lines[k]
        if not line.strip():
            k -= 1
            continue
        if _RULE.match(line):
            return k
        if _LEAD_FIELD.match(line):
            start = k
            k -= 1
            continue
        break
    return start


def _only_tail_after(lines: list[str], j: int) -> bool:
    """True when nothing but a signature, a quote header or blank lines follows index ``j``."""
    for k in range(j, len(lines)):
        line = lines[k]
        if not line.strip():
            continue
        if line.rstrip("\r") in ("-- ", "--") or _is_sent_from(line):
            return True
        return _is_quote_header(lines, k) or _RULE.match(line) is not None
    return True


def _signature_start(lines: list[str], search_lines: int) -> int | None:
    found: list[int] = []
    for i, line in enumerate(lines):
        if line == "-- " and i > 0:
            found.append(i)
            break
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    for i in nonblank[-_SENT_FROM_TAIL:]:
        if _is_sent_from(lines[i]) and i > 0:
            found.append(i)
            break
    start = max(1, len(lines) - search_lines)
    for i in range(len(lines) - 1, start - 1, -1):
        if lines[i].strip() in ("--", "—"):
            if _reads_like_signature(lines[i + 1:]):
                found.append(i)
            break
    return min(found) if found else None


_SENTENCE_END = (".", "?", "!", "。", "？", "！")
_SENTENCE_MIN_WORDS = 6


def _reads_like_signature(block: list[str]) -> bool:
    """Under a bare "--" (which is also a section divider): names, titles, phone numbers,
    short lines — not a sentence the customer wrote. Unsure means it stays in the text."""
    lines = [line.strip() for line in block if line.strip()]
    if not lines:
        return False
    return not any(
        line.endswith(_SENTENCE_END) and len(line.split()) >= _SENTENCE_MIN_WORDS
        for line in lines
    )


def _bottom_post(lines: list[str]) -> ReplyParts | None:
    """A reply written under the quote: the attribution and ``>`` lines are the history, the
    unquoted lines after them the new text."""
    end = 0
    while end < len(lines) and (
        end == 0 or lines[end].lstrip().startswith(">") or not lines[end].strip()
    ):
        end += 1
    rest = lines[end:]
    if not any(line.lstrip().startswith(">") for line in lines[1:end]):
        return None  # a banner or header block, not a ">" quote: nothing is "under" it
    if not any(line.strip() for line in rest) or any(
        line.lstrip().startswith(">") for line in rest
    ):
        return None
    return ReplyParts(
        text="\n".join(rest).strip("\n").rstrip(),
        quoted="\n".join(lines[:end]).strip("\n").rstrip(),
        signature="",
    )


def split_reply(body: str, signature_search_lines: int = 15) -> ReplyParts:
    """Split a plain-text body into new text, quoted history and signature."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    q = _quote_start(lines)
    head, quoted = (lines, []) if q is None else (lines[:q], lines[q:])
    s = _signature_start(head, signature_search_lines)
    new, signature = (head, []) if s is None else (head[:s], head[s:])
    text = "\n".join(new).strip("\n").rstrip()
    if not text.strip() and q is not None:
        bottom = _bottom_post(quoted)
        if bottom is not None:
            return bottom
    if not text.strip():
        # nothing new (a bare forward, a lone signature): the whole body is what was sent
        return ReplyParts(text=body.strip(), quoted="", signature="")
    return ReplyParts(
        text=text,
        quoted="\n".join(quoted).strip("\n").rstrip(),
        signature="\n".join(signature).strip("\n").rstrip(),
    )
