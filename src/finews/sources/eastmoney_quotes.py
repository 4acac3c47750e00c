"""East Money's quote list (``push2.eastmoney.com/api/qt/clist/get``): every listed
Shanghai, Shenzhen and Beijing A share's code and name, for the directory of security names
(:mod:`finews.store.securities`). Not a news source: ``finews securities refresh`` asks it
when ``securities.list_enabled`` is on (off by default), at ``securities.list_url``.

One request asks for the whole list (``pz`` 50000, one page: ``np=1`` makes ``data.diff``
a list); of each row only ``f12`` (the code), ``f13`` (the market: 1 Shanghai, 0 Shenzhen and
Beijing, East Money's ``<market>.<code>`` notation) and ``f14`` (the name) are read, and
only those are asked for. A reply without ``data`` (East Money's answer to a filter that
matches nothing) is an empty list; a reply that is not the shape at all is a
:class:`~finews.errors.ParseError`; a row without a code that is one, or without a name, is
left out.

Evidence: akshare's ``stock_zh_a_spot_em`` (``akshare/stock_feature/stock_hist_em.py`` of
akfamily/akshare, the version whose header says ``Date: 2022/6/19``, stored at commit
8bc4e125e183; read 2026-12-07): GET ``http://82.push2.eastmoney.com/api/qt/clist/get``
with ``pn=1``, ``pz=50000``, ``po=1``, ``np=1``, ``ut=bd1d9ddb04089700cf9c27f6f7426281``,
``fltt=2``, ``invt=2``, ``fid=f3``, ``fs=m:0 t:6,m:0 t:80,m:1 t:2,m:1 t:23,m:0 t:81 s:2048``
(Shenzhen main board, ChiNext, Shanghai main board, STAR, Beijing), a ``fields`` list that
includes ``f12``, ``f13`` and ``f14``; it reads ``data.diff`` and names ``f12`` 代码 and
``f14`` 名称, and returns nothing when ``diff`` is empty.
"""

from __future__ import annotations

import json
from typing import Any

from finews.errors import ParseError
from finews.sources.base import Request
from finews.sources.securities import named_securities

__all__ = ["DEFAULT_URL", "ORIGIN", "parse_quote_list", "quote_list_request"]

#: where akshare's ``stock_zh_a_spot_em`` reads the list (the ``securities.list_url`` default)
DEFAULT_URL = "http://82.push2.eastmoney.com/api/qt/clist/get"
#: the origin the directory of names records for what this list told it
ORIGIN = "eastmoney_quotes"
#: every A-share board, as akshare asks for them
_MARKETS = "m:0 t:6,m:0 t:80,m:1 t:2,m:1 t:23,m:0 t:81 s:2048"


def quote_list_request(url: str = DEFAULT_URL) -> Request:
    """The one request for the whole list."""
    return Request(
        url=url,
        params={
            "pn": "1",
            "pz": "50000",
            "po": "1",
            "np": "1",
            "ut": "bd1d9ddb04089700cf9c27f6f7426281",
            "fltt": "2",
            "invt": "2",
            "fid": "f3",
            "fs": _MARKETS,
            "fields": "f12,f13,f14",
        },
    )


def parse_quote_list(body: bytes) -> dict[str, str]:
    """Code in finews notation → name, from one reply of :func:`quote_list_request`."""
    try:
        reply: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"the quote list is not JSON: {exc}") from exc
    if not isinstance(reply, dict):
        raise ParseError("the quote list is not a JSON object")
    data = reply.get("data")
    if data is None:
        return {}
    diff = data.get("diff") if isinstance(data, dict) else None
    if isinstance(diff, dict):  # without np=1 the rows come keyed "0", "1", …
        diff = list(diff.values())
    if not isinstance(diff, list):
        raise ParseError("the quote list has no data.diff list")
    return named_securities(
        (f"{row.get('f13')}.{row.get('f12')}", row.get("f14"))
        for row in diff
        if isinstance(row, dict) and isinstance(row.get("f12"), str)
    )
