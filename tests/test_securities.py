"""Related securities in one notation (sources/securities.py): every upstream form read."""

from __future__ import annotations

import pytest

from finews.sources.securities import securities, security


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
        ("sh 600519", None),
        ("", None),
    ],
)
def test_security_notation(given: str, want: str | None) -> None:
    assert security(given) == want


def test_securities_keep_order_and_drop_repeats() -> None:
    listed = ["1.600519", "sh600519", None, "贵州茅台", "90.BK0477", "0.000001"]
    assert securities(listed) == ("sh600519", "BK0477", "sz000001")
