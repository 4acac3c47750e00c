"""The site's icon, drawn here: three rising bars on the site's red, full bleed (so a phone
may cut it to any mask shape; the bars stay inside the middle 60 %).

``icon.svg`` (browser tabs) and the PNGs (home screens, the web app manifest) in
``publish/static`` are made by ``python -m finews.publish.icons``; ``tests/test_icons.py``
checks that the files there are what this module draws. The PNGs are written with zlib
alone, each pixel the coverage of a 4×4 grid of samples, so the same code gives the same
bytes everywhere.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

__all__ = ["PNG_SIZES", "png", "svg"]

#: file name → pixels a side
PNG_SIZES = {"icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180}

_BACKGROUND = (0xB4, 0x23, 0x18)  # the site's accent (light scheme)
_BAR = (0xFB, 0xFA, 0xF7)  # the site's paper
#: bars as (left, top, right, bottom) in units of the side, bottoms on one line
_BARS = ((0.24, 0.52, 0.36, 0.76), (0.44, 0.38, 0.56, 0.76), (0.64, 0.24, 0.76, 0.76))
_RADIUS = 0.03  # of a bar's corners
_SAMPLES = 4


def _in_bar(x: float, y: float) -> bool:
    for left, top, right, bottom in _BARS:
        if left <= x <= right and top <= y <= bottom:
            # round the corners: outside the quarter circles at each corner is outside
            cx = min(max(x, left + _RADIUS), right - _RADIUS)
            cy = min(max(y, top + _RADIUS), bottom - _RADIUS)
            return (x - cx) ** 2 + (y - cy) ** 2 <= _RADIUS**2
    return False


def _pixels(size: int) -> bytes:
    rows = bytearray()
    step = 1 / (size * _SAMPLES)
    offsets = [(i + 0.5) * step for i in range(_SAMPLES)]
    for py in range(size):
        rows.append(0)  # filter type: none
        for px in range(size):
            x0, y0 = px / size, py / size
            hits = sum(_in_bar(x0 + dx, y0 + dy) for dy in offsets for dx in offsets)
            share = hits / (_SAMPLES * _SAMPLES)
            rows.extend(
                round(back + (bar - back) * share)
                for back, bar in zip(_BACKGROUND, _BAR, strict=True)
            )
    return bytes(rows)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(size: int) -> bytes:
    """The icon as an RGB PNG of ``size`` × ``size`` pixels."""
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(_pixels(size), 9)),
            _chunk(b"IEND", b""),
        )
    )


def svg() -> str:
    """The icon as SVG (rounded, for browser tabs)."""
    red = "#{:02x}{:02x}{:02x}".format(*_BACKGROUND)
    paper = "#{:02x}{:02x}{:02x}".format(*_BAR)
    bars = "".join(
        f'<rect x="{left * 100:g}" y="{top * 100:g}" width="{(right - left) * 100:g}"'
        f' height="{(bottom - top) * 100:g}" rx="{_RADIUS * 100:g}"/>'
        for left, top, right, bottom in _BARS
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        f'<rect width="100" height="100" rx="18" fill="{red}"/>'
        f'<g fill="{paper}">{bars}</g></svg>\n'
    )


def main(folder: Path) -> None:
    """Write ``icon.svg`` and the PNGs into ``folder``."""
    (folder / "icon.svg").write_text(svg(), encoding="utf-8")
    for name, size in PNG_SIZES.items():
        (folder / name).write_bytes(png(size))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "static")
