"""Markdown safety: text in a Jekyll post that Liquid and kramdown must show, not run.

Sanitised HTML and inert plain text (see :mod:`finews.normalize.sanitize`) are safe in a
browser, but a Jekyll post passes through two more interpreters first:

- **Liquid** runs ``{{ … }}`` and ``{% … %}`` anywhere in a post; a headline with ``{%``
  breaks the build of the whole site. :func:`defuse` writes the ``{`` of ``{{`` and ``{%``
  as the character reference ``&#123;``, which Markdown and HTML show as ``{``.
- **kramdown** reads ``{:`` as the start of an attribute list (``{: onfocus="…"}`` after a
  paragraph, ``*a*{: onmouseover=…}`` after a span, also after an HTML element), of an
  attribute definition (``{:name: …}``) or of an extension (``{::nomarkdown}``,
  ``{::options … /}``), and ``{#id}`` at the end of a header as its id. :func:`defuse` writes
  the ``{`` of ``{:`` and ``{#`` as ``&#123;`` too: every one of these starts with that
  ``{``, and the character reference is shown as ``{`` both in Markdown text and inside
  the raw HTML of a sanitised body (a backslash would be shown there). Inside a code span
  or code block the reference is shown as written; plain text seldom has either.
- **kramdown** turns ``[text](javascript:…)`` and ``[id]: javascript:…`` (also inside a
  block quote or a list) into links, and
  browsers decode entities in the target (``java&#115;cript:``). :func:`defuse` escapes
  the bracket of a link or link definition whose target has a scheme other than ``http``,
  ``https``, ``mailto`` or ``ftp``: *n* backslashes before it become *2n + 1*, an odd count,
  so the bracket is always escaped and the original count can be recovered.

What kramdown needs from the rest of the text is done before: plain text has every ``<``
that could open a tag, comment or autolink written ``&lt;``
(:func:`finews.normalize.sanitize.as_markup`, at export: it is stored as it came), and
HTML is sanitised (:func:`finews.normalize.sanitize.clean_markup`). kramdown keeps
character references as references (``&lt;script&gt;`` is shown, never parsed), and its
``$$…$$`` math is text.

:func:`restore` undoes :func:`defuse` exactly (``restore(defuse(t)) == t``), except that a
literal ``&#123;`` just before ``{``, ``%``, ``:`` or ``#`` comes back as ``{``, which shows
the same.
Ordinary text is unchanged by both.
"""

from __future__ import annotations

import html
import re

__all__ = ["defuse", "restore", "unsafe_target"]

SAFE_SCHEMES = frozenset({"http", "https", "mailto", "ftp"})

#: the ``{`` that starts Liquid (``{{``, ``{%``) or kramdown syntax (``{:``, ``{#``)
_LIQUID = re.compile(r"\{(?=[{%:#])")
_LIQUID_GUARD = re.compile(r"&#123;(?=(?:&#123;)*[{%:#])")
# The bracket alone is matched, its target only looked at: a target may hold another
# link (``](…[x](javascript:…)``), which must be judged on its own.
_LINK = re.compile(r"(\\*)(\])(?=\s*\(\s*<?([^\s)>]*))")
# A link definition's label as kramdown reads it (any character but "]", backslashes too),
# matched anywhere on a line: kramdown also reads definitions inside block quotes and lists.
_DEFINITION = re.compile(r"(\\*)(\[[^\n\]]+\]:)(?=[ \t]*<?(\S*))")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Dropped before judging a scheme: what browsers ignore in a URL, the backslashes kramdown
# may read as escapes (``javascript\\:``) and angle brackets (``&lt;javascript:…&gt;``),
# so that the judgement errs towards unsafe.
_IGNORED_BY_BROWSERS = re.compile(r"[\x00-\x20\\<>]")


def unsafe_target(target: str) -> bool:
    """Whether a link target has a scheme other than http, https, mailto or ftp.

    Judged as a browser would read it, and then some: entities decoded, whitespace,
    controls, backslashes and angle brackets dropped.
    """
    decoded = _IGNORED_BY_BROWSERS.sub("", html.unescape(target))
    scheme = _SCHEME.match(decoded)
    return scheme is not None and scheme[1].lower() not in SAFE_SCHEMES


def defuse(text: str) -> str:
    """``text`` with Liquid tags, kramdown attribute lists, definitions and extensions, and
    links to unsafe schemes made plain text."""

    def escape(match: re.Match[str]) -> str:
        # the bracket of a link or definition to an unsafe target: n backslashes → 2n + 1
        if not unsafe_target(match[3]):
            return match[0]
        return "\\" * (2 * len(match[1]) + 1) + match[2]

    text = _LIQUID.sub("&#123;", text)
    text = _LINK.sub(escape, text)
    return _DEFINITION.sub(escape, text)


def restore(text: str) -> str:
    """The text :func:`defuse` was given."""

    def unescape(match: re.Match[str]) -> str:
        count = len(match[1])
        if count % 2 == 0 or not unsafe_target(match[3]):
            return match[0]
        return "\\" * ((count - 1) // 2) + match[2]

    text = _DEFINITION.sub(unescape, text)
    text = _LINK.sub(unescape, text)
    return _LIQUID_GUARD.sub("{", text)
