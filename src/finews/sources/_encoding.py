"""Bytes to text for documents whose declared charset may be missing or wrong.

Chinese feeds and article pages come in UTF-8, GBK/GB2312/GB18030 or Big5, and their
declarations lie often enough (``encoding="utf-8"`` over GBK bytes; ``ISO-8859-1`` over
Chinese text) that trusting them yields mojibake. :func:`decode_document` therefore:

1. obeys a byte-order mark;
2. takes UTF-8 when the bytes are valid UTF-8 (GBK or Big5 text almost never is);
3. otherwise tries the declared charset (the HTTP ``Content-Type`` charset when it names
   a usable one, else the document's own declaration, as the standards order them),
   GB18030 (a superset of GB2312 and GBK) and Big5 (HKSCS, a superset), keeping those
   that decode without error, and picks the one whose Chinese characters look most like
   real text: the share of ideographs among the 3,755 GB2312 level-1 characters or the
   5,401 Big5 frequently-used ones. Misread bytes give rare characters, kana, symbols or
   private-use code points instead;
4. when nothing decodes cleanly, decodes the declared charset (else UTF-8) replacing the
   bad bytes, so that one broken byte does not lose a whole feed (``Decoded.lossy``).

A label that names no text charset (``hex``, ``base64``, ``rot13``… are codecs too) or an
unknown one is passed over, as if absent.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass

__all__ = [
    "Decoded",
    "decode_document",
    "html_declared_charset",
    "http_charset",
    "xml_declared_charset",
]

_CONTENT_TYPE_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)

_XML_DECLARATION = re.compile(
    rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)\s*["']""", re.IGNORECASE
)
_HTML_META_CHARSET = re.compile(
    rb"""<meta[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Codecs a declaration names, widened to the superset real servers actually send under
# that label (pages labelled gb2312 routinely hold GBK-only characters).
_WIDER = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
}
_CJK = frozenset({"gb18030", "big5hkscs"})
# Text codecs no web document is in: a label naming one is ignored. UTF-7 is refused on
# purpose (it hides markup from filters).
_NOT_DOCUMENT_CODECS = frozenset(
    {"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "utf-7"}
)

# Below this share of common ideographs a CJK decoding is taken for mojibake, when a
# declared non-CJK charset competes with it.
_CONFIDENT = 0.9
# At least this many ideographs before a CJK guess may overrule a declared charset.
_ENOUGH = 4


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded document: its text, the codec used and whether bytes were replaced."""

    text: str
    encoding: str
    lossy: bool = False


def http_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` header value, lower-case."""
    match = _CONTENT_TYPE_CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def xml_declared_charset(body: bytes) -> str | None:
    """The ``encoding`` of an XML declaration, lower-case; ``None`` when there is none."""
    match = _XML_DECLARATION.match(body[:1024])
    return match.group(1).decode("ascii").lower() if match else None


def html_declared_charset(body: bytes) -> str | None:
    """The charset of an HTML ``<meta charset>`` or ``http-equiv`` in the first 4 KiB."""
    match = _HTML_META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def decode_document(
    body: bytes, declared: str | None = None, *, http: str | None = None
) -> Decoded:
    """Decode ``body``, taking ``http`` (the ``Content-Type`` charset) or else ``declared``
    (the document's own label) as a hint only; a label that names no usable text charset
    is passed over."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(codec, errors="replace")
            return Decoded(text, codec, lossy="\ufffd" in text)
    utf16 = _bomless_utf16(body)
    if utf16 is not None:
        text = body.decode(utf16, errors="replace")
        return Decoded(text, utf16, lossy="\ufffd" in text)
    try:
        return Decoded(body.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    hint = _codec(http) or _codec(declared)
    candidates = [c for c in dict.fromkeys((hint, "gb18030", "big5hkscs")) if c]
    decoded: list[tuple[str, str]] = []
    for codec in candidates:
        try:
            decoded.append((codec, body.decode(codec)))
        except UnicodeError:  # UnicodeDecodeError, and codecs that fail outright
            continue
    if decoded:
        codec, text = _choose(decoded, hint)
        return Decoded(text, codec)
    fallback = hint or "utf-8"
    return Decoded(body.decode(fallback, errors="replace"), fallback, lossy=True)


def _bomless_utf16(body: bytes) -> str | None:
    # "<?" in UTF-16 without a byte-order mark (the XML spec's autodetection table).
    if body.startswith(b"<\x00?\x00"):
        return "utf-16-le"
    if body.startswith(b"\x00<\x00?"):
        return "utf-16-be"
    return None


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label; ``None`` for no or an unknown label."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip())
    except (LookupError, ValueError):
        return None
    # hex, base64, uu, zlib, rot13, bz2, quopri are bytes-to-bytes (or str-to-str) codecs:
    # decoding with one raises LookupError "not a text encoding". Only text codecs are
    # charsets; CodecInfo says which (b"".decode(name) never raised for them: empty input).
    if not getattr(info, "_is_text_encoding", True):
        return None
    name = info.name
    if name in _NOT_DOCUMENT_CODECS:
        return None
    # A UTF-16/32 declaration without a BOM on bytes that are not UTF-16: the label lies.
    if name.startswith(("utf-16", "utf-32")) or name == "utf-8":
        return None
    return _WIDER.get(name, name)


def _choose(decoded: list[tuple[str, str]], hint: str | None) -> tuple[str, str]:
    """The most plausible (codec, text); the declared codec wins ties and non-CJK text."""
    scored = [(codec, text, *_plausibility(text)) for codec, text in decoded]
    best = max(
        (entry for entry in scored if entry[0] in _CJK),
        key=lambda entry: entry[2],
        default=None,
    )
    declared = scored[0] if scored[0][0] == hint else None
    if declared is None:
        return (best or scored[0])[:2]
    if declared[0] not in _CJK:
        # A declared single-byte charset always "decodes"; overrule it only on strong
        # evidence that the bytes are Chinese.
        if best is not None and best[2] >= _CONFIDENT and best[3] >= _ENOUGH:
            return best[:2]
        return declared[:2]
    if best is not None and best[2] > declared[2]:
        return best[:2]
    return declared[:2]


def _plausibility(text: str) -> tuple[float, int]:
    """(share of common characters among the ideographs and odd symbols, ideograph count)."""
    common = _common_ideographs()
    good = odd = ideographs = 0
    for char in text:
        point = ord(char)
        if point < 0x80 or 0x2000 <= point <= 0x206F or 0x3000 <= point <= 0x303F:
            continue  # ASCII and punctuation say nothing either way
        if 0xFF00 <= point <= 0xFFEF:
            continue  # full-width forms: common in Chinese text whatever the charset
        if 0x4E00 <= point <= 0x9FFF:
            ideographs += 1
        if char in common:
            good += 1
        else:
            odd += 1
    total = good + odd
    return (good / total if total else 1.0), ideographs


@functools.cache
def _common_ideographs() -> frozenset[str]:
    """GB2312 level 1 (rows 0xB0–0xD7) and Big5 frequently used (0xA440–0xC67E)."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    for lead in range(0xA4, 0xC7):
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            code = lead << 8 | trail
            if 0xA440 <= code <= 0xC67E:
                try:
                    chars.add(bytes((lead, trail)).decode("big5"))
                except UnicodeDecodeError:
                    continue
    return frozenset(chars)
