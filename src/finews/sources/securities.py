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
                                 case                          ``107.AAPL``; Sina ``gb_aapl``
East Money boards (sectors)      ``BK0477``                    East Money ``90.BK0477``
anything else                    kept as given when it is a    e.g. ``100.NDX``, a 财联社
                                 plain token (letters, digits, sector id
                                 ``.``, ``_``, ``-``; at most
                                 32 characters), else dropped
===============================  ============================  ==============================

A bare 6-digit code carries no exchange; it is placed by its leading digits the way the
exchanges hand codes out (``6``/``9``/``5``/``11`` Shanghai; ``92``/``4``/``8`` Beijing;
``0``/``1``/``2``/``3`` Shenzhen). That is a best guess, used only for sources that give no
market. Codes are stored space-separated, which is why a kept token may hold no space.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["bare_code", "securities", "security"]

_TOKEN = re.compile(r"[A-Za-z0-9._\-]{1,32}")
_EASTMONEY = re.compile(r"(?P<market>[0-9]{1,3})\.(?P<code>[A-Za-z0-9.\-]{1,16})")
_PREFIXED_A = re.compile(r"(?P<exchange>sh|sz|bj)(?P<code>[0-9]{6})", re.IGNORECASE)
_SUFFIXED_A = re.compile(r"(?P<code>[0-9]{6})\.(?P<exchange>sh|ss|sz|bj)", re.IGNORECASE)
_HK = re.compile(r"hk(?P<code>[0-9]{1,5})|(?P<suffixed>[0-9]{1,5})\.hk", re.IGNORECASE)
_US = re.compile(r"(?:us|gb_)(?P<ticker>[A-Za-z][A-Za-z0-9.\-]{0,9})", re.IGNORECASE)
_BOARD = re.compile(r"bk[0-9]{4}", re.IGNORECASE)
_SIX_DIGITS = re.compile(r"[0-9]{6}")

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
    elif match := _US.fullmatch(text):
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
