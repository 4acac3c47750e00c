"""Related securities in one notation, whatever the upstream wrote.

Every adapter puts the securities an item names into ``RawItem.stocks`` through
:func:`security`, so a reader (and a search) sees one form for one security:

===============================  ============================  ==============================
security                         finews notation               upstream forms read
===============================  ============================  ==============================
Shanghai / Shenzhen / Beijing    ``sh600519`` ``sz000001``     East Money ``1.600519``,
shares, funds, indices           ``bj830799``: exchange in     ``0.000001``; Sina and 财联社
                                 lower case + 6 digits         ``sh600519``; ``600519.SH``;
                                                               a bare ``600519`` (同花顺)
Hong Kong                        ``hk00700``: 5 digits         East Money ``116.00700``,
                                                               ``128.…``; ``hk700``; ``0700.HK``
United States                    ``usAAPL``: ticker upper      East Money ``105.``/``106.``/
                                 case                          ``107.AAPL``; Sina ``gb_aapl``;
                                                               ``AAPL.US``; ``us AAPL``
East Money boards (sectors)      ``BK0477``                    East Money ``90.BK0477``
anything else                    kept as given when it is a    e.g. ``100.NDX``, a 财联社
                                 plain token (letters, digits, sector id
                                 ``.``, ``_``, ``-``; at most
                                 32 characters), else dropped
===============================  ============================  ==============================

A bare 6-digit code carries no exchange; it is placed by its leading digits the way the
exchanges hand codes out (``6``/``9``/``5``/``11`` Shanghai; ``92``/``4``/``8`` Beijing;
``0``/``1``/``2``/``3`` Shenzhen). That is a best guess, used only for sources that give no
market. Codes are stored space-separated, which is why a kept token may hold no space (a
market prefix and its code may be apart, ``us AAPL``: that is read as ``usAAPL``).

:func:`security` is applied to every stored item's codes on the way in
(:mod:`finews.normalize.pipeline`), and to what a person types (``stock=`` in the API,
``/stock/<code>/``, a search for a code). Items stored before that may hold other forms;
:func:`stored_forms` lists every form a security may have been stored in, for matching them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "MIN_NAME_CHARS",
    "NameMatcher",
    "bare_code",
    "canonical_stocks",
    "code_query",
    "mention_terms",
    "named_securities",
    "securities",
    "security",
    "stored_forms",
]

_TOKEN = re.compile(r"[A-Za-z0-9._\-]{1,32}")
_EASTMONEY = re.compile(r"(?P<market>[0-9]{1,3})\.(?P<code>[A-Za-z0-9.\-]{1,16})")
_PREFIXED_A = re.compile(r"(?P<exchange>sh|sz|bj)(?P<code>[0-9]{6})", re.IGNORECASE)
_SUFFIXED_A = re.compile(r"(?P<code>[0-9]{6})\.(?P<exchange>sh|ss|sz|bj)", re.IGNORECASE)
_HK = re.compile(r"hk(?P<code>[0-9]{1,5})|(?P<suffixed>[0-9]{1,5})\.hk", re.IGNORECASE)
_US = re.compile(r"(?:us|gb_)(?P<ticker>[A-Za-z][A-Za-z0-9.\-]{0,9})", re.IGNORECASE)
_US_SUFFIXED = re.compile(r"(?P<ticker>[A-Za-z][A-Za-z0-9.\-]{0,9})\.us", re.IGNORECASE)
_SPACED = re.compile(r"(?P<prefix>sh|sz|bj|hk|us)\s+(?P<code>[A-Za-z0-9.\-]{1,16})", re.IGNORECASE)
_BOARD = re.compile(r"bk[0-9]{4}", re.IGNORECASE)
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_CHINESE = re.compile(r"[\u4e00-\u9fff]")

#: the fewest characters a name is matched with (:class:`NameMatcher`)
MIN_NAME_CHARS = 2

# East Money's market ids (the number before the dot in ``stockList``).
_EM_SHANGHAI = {"1"}
_EM_SHENZHEN = {"0"}
_EM_HONG_KONG = {"116", "128"}
_EM_US = {"105", "106", "107"}
_EM_BOARDS = {"90"}


def bare_code(code: str) -> str | None:
    """A bare 6-digit mainland code with its exchange guessed from the leading digits."""
    if not _SIX_DIGITS.fullmatch(code):
        return None
    if code.startswith(("92", "4", "8")):
        return "bj" + code
    if code.startswith(("6", "9", "5", "11")):
        return "sh" + code
    return "sz" + code


def _from_eastmoney(market: str, code: str) -> str | None:
    if market in _EM_SHANGHAI and _SIX_DIGITS.fullmatch(code):
        return "sh" + code
    if market in _EM_SHENZHEN and _SIX_DIGITS.fullmatch(code):
        # East Money lists Beijing codes under market 0 as well.
        return ("bj" if code.startswith(("92", "4", "8")) else "sz") + code
    if market in _EM_HONG_KONG and code.isdigit() and len(code) <= 5:
        return "hk" + code.zfill(5)
    if market in _EM_US and code[:1].isalpha():
        return "us" + code.upper()
    if market in _EM_BOARDS and _BOARD.fullmatch(code):
        return code.upper()
    return None


def security(code: str) -> str | None:
    """One upstream security code in finews notation; ``None`` when it is not a code.

    See the module docstring for every form read. Surrounding whitespace is ignored.
    """
    text = code.strip()
    if not text.isascii():
        return None
    if spaced := _SPACED.fullmatch(text):
        text = spaced["prefix"] + spaced["code"]
    if match := _EASTMONEY.fullmatch(text):
        found = _from_eastmoney(match["market"], match["code"])
        if found is not None:
            return found
    elif match := _PREFIXED_A.fullmatch(text):
        return match["exchange"].lower() + match["code"]
    elif match := _SUFFIXED_A.fullmatch(text):
        exchange = match["exchange"].lower()
        return ("sh" if exchange == "ss" else exchange) + match["code"]
    elif match := _HK.fullmatch(text):
        return "hk" + (match["code"] or match["suffixed"]).zfill(5)
    elif _BOARD.fullmatch(text):
        return text.upper()
    elif (match := _US_SUFFIXED.fullmatch(text)) or (match := _US.fullmatch(text)):
        return "us" + match["ticker"].upper()
    elif found := bare_code(text):
        return found
    return text if _TOKEN.fullmatch(text) else None


def securities(codes: Iterable[str | None]) -> tuple[str, ...]:
    """The codes in finews notation, in first-seen order, without repeats or non-codes."""
    seen: dict[str, None] = {}
    for code in codes:
        if code is None:
            continue
        found = security(code)
        if found is not None:
            seen.setdefault(found, None)
    return tuple(seen)


def named_securities(pairs: Iterable[tuple[object, object]]) -> dict[str, str]:
    """The names an upstream attached to codes: (code, name) pairs → code in finews
    notation → name (its whitespace folded). A pair whose code is not one, or that has no
    name, is left out; of two names for one code the last is kept."""
    found: dict[str, str] = {}
    for code, name in pairs:
        if not isinstance(code, str) or not isinstance(name, str):
            continue
        canonical = security(code)
        text = " ".join(name.split())
        if canonical is not None and text:
            found[canonical] = text
    return found


def canonical_stocks(codes: Iterable[str]) -> tuple[str, ...]:
    """An item's codes as they are stored: each in finews notation when it is a code, else
    kept as given (an importer's text is not dropped), in first-seen order without repeats."""
    seen: dict[str, None] = {}
    for code in codes:
        seen.setdefault(security(code) or code, None)
    return tuple(seen)


def stored_forms(canonical: str) -> tuple[str, ...]:
    """Every form, in lower case, in which an item stored before codes were put in finews
    notation may hold the security ``canonical`` (itself included): what the adapters
    wrote then, as the module docstring lists."""
    forms = {canonical.lower()}
    if match := _PREFIXED_A.fullmatch(canonical):
        exchange, digits = match["exchange"].lower(), match["code"]
        forms |= {digits, f"{digits}.{exchange}"}
        if exchange == "sh":
            forms |= {f"1.{digits}", f"{digits}.ss"}
        else:
            forms.add(f"0.{digits}")
    elif canonical.startswith("hk") and canonical[2:].isdigit():
        digits = canonical[2:]
        short = digits.lstrip("0") or "0"
        for number in {digits, short, short.zfill(4)}:
            forms |= {f"hk{number}", f"{number}.hk", f"116.{number}", f"128.{number}"}
    elif canonical.startswith("us") and len(canonical) > 2:
        ticker = canonical[2:].lower()
        forms |= {f"gb_{ticker}", f"{ticker}.us"} | {f"{m}.{ticker}" for m in ("105", "106", "107")}
    elif _BOARD.fullmatch(canonical):
        forms.add(f"90.{canonical.lower()}")
    return tuple(sorted(forms))


def mention_terms(canonical: str) -> tuple[str, ...]:
    """What in a title or digest names the security ``canonical`` by its code: the digits
    of a mainland (6) or Hong Kong (5) code. Tickers and other codes are left out: a
    ticker such as ``AI`` or ``ON`` is too often an ordinary word to count as a mention."""
    if _PREFIXED_A.fullmatch(canonical):
        return (canonical[2:],)
    if canonical.startswith("hk") and canonical[2:].isdigit() and len(canonical) == 7:
        return (canonical[2:],)
    return ()


def code_query(text: str) -> str | None:
    """The security a search for ``text`` names, in finews notation, else ``None``: a
    mainland or Hong Kong code or an East Money board in any notation (``600519``,
    ``SH600519``, ``0700.HK``, ``BK0477``), or a US ticker written as one (``AAPL.US``,
    ``us AAPL``, ``usAAPL``, ``105.AAPL``; not ``usd`` or ``USA``, which are words)."""
    found = security(text)
    if found is None:
        return None
    if mention_terms(found) or _BOARD.fullmatch(found):
        return found
    written = text.strip()
    if found.startswith("us") and (
        _US_SUFFIXED.fullmatch(written)
        or _EASTMONEY.fullmatch(written)
        or _SPACED.fullmatch(written)
        or (written[:2] == "us" and written[2:].isupper())
    ):
        return found
    return None


class NameMatcher:
    """Finds the securities a text names by their known names (:mod:`finews.store.securities`'s
    directory: code → name), built once per directory. Names of fewer than
    :data:`MIN_NAME_CHARS` characters, and names without a Chinese character (``TCL``,
    ``Apple``: also parts of words), are left out. At each place in the text the longest
    name wins and the search goes on after it, so 平安银行 is not also 平安."""

    def __init__(self, names: Mapping[str, str]) -> None:
        codes: dict[str, list[str]] = {}
        for code, name in names.items():
            name = name.strip()
            if len(name) >= MIN_NAME_CHARS and _CHINESE.search(name):
                codes.setdefault(name, []).append(code)  # (an A share and its H share)
        by_start: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for name in sorted(codes, key=lambda name: (-len(name), name)):
            by_start.setdefault(name[:MIN_NAME_CHARS], []).append((name, tuple(codes[name])))
        self._by_start = by_start

    def __bool__(self) -> bool:
        return bool(self._by_start)

    def codes(self, *texts: str) -> set[str]:
        """The codes of the names found in ``texts``."""
        found: set[str] = set()
        by_start = self._by_start
        for text in texts:
            index, end = 0, len(text) - MIN_NAME_CHARS + 1
            while index < end:
                candidates = by_start.get(text[index : index + MIN_NAME_CHARS])
                step = 1
                if candidates:
                    for name, named in candidates:
                        if text.startswith(name, index):
                            found.update(named)
                            step = len(name)
                            break
                index += step
        return found
