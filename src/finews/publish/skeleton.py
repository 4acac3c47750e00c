"""A template's output with holes: rendered by Jinja once per shape, then filled.

The static build renders one article page per item, and Jinja's work per page (the block
machinery, an escape per value) is most of a full build's CPU. Most of that work does not
depend on the item: where the values would go, and which ``{% if %}`` branches and how many
``{% for %}`` turns are taken, depend only on the values' *shape* (which are empty, which
flags are set, how long each list is). So :class:`Skeletons` renders the template through
Jinja once per shape, with a marker in place of every non-empty value, cuts the output at
the markers, and fills each later page of that shape with its values, escaped exactly as
Jinja's autoescape escapes them (``markupsafe.escape``). The template stays the one
definition of the page, shared with the live app; this is a cache of its output.

That holds for a template that only *places* the values it is given: ``{{ page.title }}``,
``{% if page.byline %}``, ``{% for other in page.also %}``, but no filter, slice, call or
comparison on them (compute those in Python and pass the result). A marker that such an
operation mangled leaves a stray marker character in the output; that shape is then always
rendered by Jinja instead, so a template edited against the rule is slower, never wrong.
``tests/test_site_skeleton.py`` checks that filled pages are byte for byte Jinja's.

Values: ``str``, ``Markup`` and ``int`` leaves become holes (empty ones, ``bool`` and
``None`` are part of the shape); a ``dict``, ``list`` or ``tuple`` is walked (its keys and
length are part of the shape). A page with a value of any other type (a ``str`` subclass
included) is rendered by Jinja.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

__all__ = ["SHAPES", "Skeletons"]

_OPEN = "\x00"
_CLOSE = "\x01"
_HOLE = re.compile(f"{_OPEN}(\\d+){_CLOSE}")

_NEW: Any = object()

#: shapes kept per template (an article's shape varies with its "also reported by" list)
SHAPES = 512


class _Unplaceable(Exception):
    """A value of another type (a ``str`` subclass, a date): Jinja renders that page."""


def _escaped(text: str) -> str:
    """``str(markupsafe.escape(text))`` for a plain ``str``, without making a ``Markup``."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    return (
        text.replace(">", "&gt;").replace("<", "&lt;").replace("'", "&#39;").replace('"', "&#34;")
    )


def _walk(value: Any, shape: list[Any], holes: list[str]) -> None:
    """Append ``value``'s shape and its holes, escaped as Jinja's autoescape escapes them
    (in the order :func:`_marked` numbers them)."""
    kind = value.__class__
    if kind is dict:
        shape.append(tuple(value))
        items: Any = value.values()
    elif kind is list or kind is tuple:
        shape.append(len(value))
        items = value
    else:
        items = (value,)
    for item in items:
        kind = item.__class__
        if kind is str and item:
            shape.append(str)
            holes.append(_escaped(item))
        elif kind is dict or kind is list or kind is tuple:
            _walk(item, shape, holes)
        elif item is None or kind is bool or not item:
            # a constant of the shape ("" and 0 are kept by type: they render differently)
            shape.append((kind, item))
        elif kind is Markup:
            shape.append(Markup)
            holes.append(str(item))
        elif kind is int:
            shape.append(int)
            holes.append(str(item))
        else:
            raise _Unplaceable(kind.__name__)


def _marked(value: Any, count: list[int]) -> Any:
    """``value`` with a marker in place of each hole (numbered as :func:`_walk` lists)."""
    kind = value.__class__
    if kind is dict:
        return {key: _marked(item, count) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_marked(item, count) for item in value]
    if value is None or kind is bool or not value:
        return value
    marker = f"{_OPEN}{count[0]}{_CLOSE}"
    count[0] += 1
    return Markup(marker) if kind is Markup else marker  # noqa: S704 - a marker


class Skeletons:
    """Renders ``render(**{name: values})`` by filling cached skeletons (see the module
    docstring). ``render`` is the Jinja render of the one template, whose other variables
    must not change between calls (globals, settings)."""

    def __init__(self, render: Callable[..., str], name: str) -> None:
        self._render = render
        self._name = name
        #: shape → (pieces, hole index after each piece but the last), or None: use Jinja
        self._shapes: dict[tuple[Any, ...], tuple[list[str], list[int]] | None] = {}
        # the live app renders in several threads: a new shape is added under this lock
        # (a lookup needs none)
        self._adding = threading.Lock()

    def __call__(self, values: Mapping[str, Any]) -> str:
        shape: list[Any] = []
        holes: list[str] = []
        try:
            _walk(values, shape, holes)
        except _Unplaceable:
            return self._render(**{self._name: values})
        key = tuple(shape)
        skeleton = self._shapes.get(key, _NEW)
        if skeleton is _NEW:
            skeleton = self._cut(values, len(holes))
            with self._adding:
                if len(self._shapes) >= SHAPES:
                    self._shapes.clear()  # (shapes are few: this bound is for odd input)
                self._shapes[key] = skeleton
        if skeleton is None:
            return self._render(**{self._name: values})
        pieces, order = skeleton
        out = [pieces[0]]
        for at, index in enumerate(order, start=1):
            out.append(holes[index])
            out.append(pieces[at])
        return "".join(out)

    def _cut(self, values: Mapping[str, Any], holes: int) -> tuple[list[str], list[int]] | None:
        html = self._render(**{self._name: _marked(values, [0])})
        parts = _HOLE.split(html)
        pieces, order = parts[0::2], [int(index) for index in parts[1::2]]
        if any(_OPEN in piece or _CLOSE in piece for piece in pieces) or any(
            index >= holes for index in order
        ):
            return None  # a marker was changed on its way through the template
        return pieces, order
