"""Related securities in one notation (sources/securities.py): every upstream form read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finews.sources.securities import (
    canonical_stocks,
    mention_terms,
    securities,
    security,
    stored_forms,
)


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("1.600519", "sh600519"),  # East Money
        ("0.000001", "sz000001"),
        ("0.830799", "bj830799"),
        ("0.920118", "bj920118"),
        ("116.00700", "hk00700"),
        ("128.700", "hk00700"),
        ("105.aapl", "usAAPL"),
        ("90.BK0477", "BK0477"),
        ("100.NDX", "100.NDX"),  # an index East Money numbers itself: kept as given
        ("sh600519", "sh600519"),  # Sina, 财联社
        ("SZ000858", "sz000858"),
        ("600519.SS", "sh600519"),
        ("0700.HK", "hk00700"),
        ("hk700", "hk00700"),
        ("gb_aapl", "usAAPL"),
        ("usBRK.B", "usBRK.B"),
        ("600519", "sh600519"),  # bare codes (同花顺): the exchange by the leading digits
        ("000858", "sz000858"),
        ("300750", "sz300750"),
        ("688981", "sh688981"),
        ("510300", "sh510300"),
        ("430047", "bj430047"),
        (" sh600519 ", "sh600519"),
        ("cls80152", "cls80152"),  # a 财联社 sector id: kept as given
        ("贵州茅台", None),
        ("sh 600519", "sh600519"),  # a market prefix apart from its code
        ("us AAPL", "usAAPL"),
        ("AAPL.US", "usAAPL"),
        ("00700.HK", "hk00700"),
        ("SH600519", "sh600519"),
        ("600519.SH", "sh600519"),
        ("sh600519 extra", None),
        ("", None),
    ],
)
def test_security_notation(given: str, want: str | None) -> None:
    assert security(given) == want


def test_securities_keep_order_and_drop_repeats() -> None:
    listed = ["1.600519", "sh600519", None, "贵州茅台", "90.BK0477", "0.000001"]
    assert securities(listed) == ("sh600519", "BK0477", "sz000001")


_DIGITS6 = st.text("0123456789", min_size=6, max_size=6)
_TICKER = st.from_regex(r"[A-Z][A-Z0-9]{0,4}", fullmatch=True)


@st.composite
def _a_share_forms(draw: st.DrawFn) -> tuple[str, list[str]]:
    exchange = draw(st.sampled_from(["sh", "sz"]))
    digits = draw(_DIGITS6.filter(lambda d: not d.startswith(("92", "4", "8"))))
    market = "1" if exchange == "sh" else "0"
    forms = [
        exchange + digits,
        exchange.upper() + digits,
        f"{market}.{digits}",
        f"{digits}.{exchange.upper()}",
        f"{digits}.{exchange}",
        f"{exchange} {digits}",
    ]
    return exchange + digits, forms


@given(_a_share_forms())
def test_every_a_share_notation_means_one_security(case: tuple[str, list[str]]) -> None:
    canonical, forms = case
    for form in forms:
        assert security(form) == canonical, form
        assert form.lower().replace(" ", "") in stored_forms(canonical)
    assert security(canonical) == canonical  # the notation is a fixed point
    assert mention_terms(canonical) == (canonical[2:],)


@given(st.integers(0, 99999))
def test_every_hong_kong_notation_means_one_security(number: int) -> None:
    canonical = f"hk{number:05d}"
    for form in (f"hk{number}", f"HK{number:05d}", f"{number:05d}.HK", f"{number:04d}.hk",
                 f"116.{number:05d}", f"128.{number}", f"hk {number:05d}"):  # fmt: skip
        assert security(form) == canonical, form
        assert security(form.replace(" ", "")) in (canonical,)
    assert security(canonical) == canonical
    for form in (f"hk{number}", f"{number:05d}.hk", f"116.{number:05d}"):
        assert form in stored_forms(canonical)


@given(_TICKER)
def test_every_us_notation_means_one_security(ticker: str) -> None:
    canonical = "us" + ticker
    for form in (f"us{ticker}", f"US {ticker}", f"{ticker}.US", f"{ticker.lower()}.us",
                 f"105.{ticker}", f"gb_{ticker.lower()}"):  # fmt: skip
        assert security(form) == canonical, form
    assert security(canonical) == canonical
    assert f"gb_{ticker.lower()}" in stored_forms(canonical)
    assert mention_terms(canonical) == ()  # a ticker is too often a word


def test_canonical_stocks_keep_what_is_not_a_code() -> None:
    assert canonical_stocks(["600519", "SH600519", "贵州茅台", "0700.HK"]) == (
        "sh600519",
        "贵州茅台",
        "hk00700",
    )
