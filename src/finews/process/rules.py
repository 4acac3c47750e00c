"""Watchlist rules: what a ``[rules.NAME]`` table asks, and whether an item matches it.

A rule is read from the settings file (:func:`parse_rule`, called by :mod:`finews.config`
at start-up, so a wrong rule stops finews with the rule's name and key)::

    [rules.moutai]
    query = "茅台 -广告"          # finews search syntax; -word excludes
    stocks = ["600519"]           # any notation (sources/securities.py)
    sources = ["cls", "em_fast"]  # only these sources
    min_importance = 1            # only items at least this important
    notify = ["tgram://bottoken/ChatID"]   # Apprise URLs (secrets: never shown)
    mute = false                  # true: hide matches from pages, feeds and API lists
    follow_up = false             # true: one more alert when the story becomes important

An item matches when it is **about something the rule watches** (its ``query`` matches, or
it is about one of its ``stocks``; a rule with neither watches every item) **and passes its
filters** (one of ``sources``, importance at least ``min_importance``) **and none of its
exclusions** (``-word`` terms of the query) occurs in it.

The query is matched exactly as ``finews search`` matches it (:mod:`finews.process.index`:
the same terms, tokens and phrases, Simplified and Traditional forms alike), but against
the item's own text in memory, so a rule costs no query against the database: the item's
tokens are made once (:class:`ItemText`) and every rule is tested against them. A term
matches when its tokens stand in consecutive positions of the title or of the body (digest
and full text); a lone Han character matches anywhere in the text, as the search index's
``chars`` field does. (The search index stops counting a token after 256 occurrences; a
rule does not, so on very long texts a rule may match where a search would not.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from finews.errors import ConfigError
from finews.models import Item
from finews.process.index import (
    MAX_QUERY_CHARS,
    ParsedQuery,
    QueryError,
    parse_query,
    plain_text,
    tokens,
)
from finews.sources.securities import mention_terms, security, stored_forms

__all__ = ["RULE_KEYS", "ItemText", "Rule", "channel_key", "channel_label", "parse_rule"]

#: the keys a ``[rules.NAME]`` table may have
RULE_KEYS = ("query", "stocks", "sources", "min_importance", "notify", "mute", "follow_up")

#: what a rule's name may look like (it is shown, logged and stored with its alerts)
RULE_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")

# a query's words: an optional "-", then a quoted phrase or a run without blanks
_WORD = re.compile(r'(-?)("[^"]*"?|[^\s"]+)')
_DIGIT_RUN = re.compile(r"[0-9]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")


@dataclass(frozen=True, slots=True)
class ItemText:
    """The tokens of one item, made once and tested against every rule."""

    item: Item
    #: the title's tokens, an empty token (no phrase spans it), then the body's
    stream: tuple[str, ...]
    #: where each token stands in ``stream``
    places: Mapping[str, tuple[int, ...]]
    chars: frozenset[str]
    #: the item's security keys: tags in lower case, 5- and 6-digit runs of title and digest
    keys: frozenset[str]

    @classmethod
    def of(cls, item: Item) -> ItemText:
        """The tokens of ``item``: title, then digest and full text as the index reads
        them."""
        body_text = plain_text(item.content)
        digest_text = plain_text(item.digest)
        if digest_text and digest_text not in body_text:
            body_text = f"{digest_text} {body_text}"
        chars: set[str] = set()
        title = tokens(plain_text(item.title), None, chars)
        stream = (*title, "", *tokens(body_text, None, chars))
        places: dict[str, list[int]] = {}
        for place, token in enumerate(stream):
            places.setdefault(token, []).append(place)
        keys = {code.lower() for code in item.stocks if code}
        for text in (item.title, item.digest):
            keys.update(run for run in _DIGIT_RUN.findall(text) if len(run) in (5, 6))
        return cls(
            item,
            stream,
            {token: tuple(found) for token, found in places.items()},
            frozenset(chars),
            frozenset(keys),
        )

    def has_phrase(self, phrase: tuple[str, ...], prefix: bool) -> bool:
        """Whether ``phrase`` stands in consecutive positions of the title or the body
        (its last token a prefix when ``prefix``)."""
        last = len(phrase) - 1
        if last == 0:
            if prefix:
                return any(token.startswith(phrase[0]) for token in self.places if token)
            return phrase[0] in self.places or phrase[0] in self.chars
        stream = self.stream
        for start in self.places.get(phrase[0], ()):
            if start + last >= len(stream):
                break
            for offset in range(1, last + 1):
                token = stream[start + offset]
                wanted = phrase[offset]
                if token != wanted and not (prefix and offset == last and token.startswith(wanted)):
                    break
            else:
                return True
        return False

    def matches(self, parsed: ParsedQuery | Terms) -> bool:
        """Whether every term of ``parsed`` occurs (in any of its forms)."""
        terms = parsed if isinstance(parsed, tuple) else terms_of(parsed)
        for forms in terms:
            for phrase, prefix in forms:
                if self.has_phrase(phrase, prefix):
                    break
            else:
                return False
        return True


#: a query's terms, each as its phrases (tokens, prefix): all terms, any phrase of each
Terms = tuple[tuple[tuple[tuple[str, ...], bool], ...], ...]


def terms_of(parsed: ParsedQuery) -> Terms:
    """The terms of ``parsed`` as :meth:`ItemText.matches` tests them."""
    return tuple(clause.phrases() for clause in parsed.clauses)


def channel_key(url: str) -> str:
    """The name under which a notify URL's alerts are stored and shown: its scheme and a
    short digest of the whole URL (the URL is a secret: it stays in the settings)."""
    import hashlib

    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{channel_label(url)}#{digest}"


def channel_label(url: str) -> str:
    """A notify URL as it may be shown: its scheme only (``tgram://…``)."""
    found = _SCHEME.match(url.strip())
    return f"{found[1].lower()}://…" if found else "(not a URL)"


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[rules.NAME]`` table, checked (see the module docstring)."""

    name: str
    query: str = ""
    include: ParsedQuery | None = None
    exclude: tuple[ParsedQuery, ...] = ()
    #: securities in finews notation, with every form an item may hold them in
    stocks: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    min_importance: int = 0
    notify: tuple[str, ...] = field(default=(), repr=False)
    mute: bool = False
    follow_up: bool = False
    _forms: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _mentions: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _include: Terms | None = field(default=None, repr=False, compare=False)
    _exclude: tuple[Terms, ...] = field(default=(), repr=False, compare=False)

    @property
    def channels(self) -> tuple[tuple[str, str], ...]:
        """(:func:`channel_key`, URL) of each notify URL."""
        return tuple((channel_key(url), url) for url in self.notify)

    def passes_filters(self, item: Item) -> bool:
        """The item is of one of the rule's sources and important enough."""
        if self.sources and item.source not in self.sources:
            return False
        return item.importance >= self.min_importance

    def about(self, text: ItemText) -> str | None:
        """Why the item is about what the rule watches: ``"query"``, ``"stock"`` or
        ``"all"`` (a rule watching everything), else ``None``."""
        if self.include is None and not self.stocks:
            return "all"
        if self.stocks and (
            any(key in self._forms for key in text.keys)
            or any(term in text.keys for term in self._mentions)
        ):
            return "stock"
        if self._include is not None and text.matches(self._include):
            return "query"
        return None

    def matches(self, text: ItemText) -> bool:
        """Whether the rule matches the item (see the module docstring)."""
        if not self.passes_filters(text.item) or self.about(text) is None:
            return False
        return not any(text.matches(excluded) for excluded in self._exclude)


def _problem(name: str, key: str, value: Any, expected: str, origin: str) -> ConfigError:
    return ConfigError(f"rules.{name}.{key}", value, expected, origin)


def _strings(name: str, key: str, value: Any, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _problem(name, key, value, "expected a list of non-empty strings", origin)
    return tuple(dict.fromkeys(v.strip() for v in value))


def split_query(text: str) -> tuple[str, tuple[str, ...]]:
    """The query's words to match (joined again) and its ``-word`` exclusions."""
    kept: list[str] = []
    excluded: list[str] = []
    for minus, word in _WORD.findall(text):
        (excluded if minus and word.strip('"') else kept).append(word)
    return " ".join(kept), tuple(excluded)


def parse_rule(
    name: str,
    table: Mapping[str, Any],
    *,
    origin: str = "settings",
    known_sources: Sequence[str] | None = None,
) -> Rule:
    """The :class:`Rule` of one ``[rules.NAME]`` table; :class:`ConfigError` naming the
    rule and the key when a value is wrong."""
    if not RULE_NAME.fullmatch(name):
        raise ConfigError(
            f"rules.{name}", name, "a rule name of letters, digits, _ and - (at most 64)", origin
        )
    if not isinstance(table, Mapping):
        raise ConfigError(f"rules.{name}", table, "expected a table [rules.NAME]", origin)
    for key in table:
        if key not in RULE_KEYS:
            raise _problem(
                name, key, table[key], "unknown key; a rule has " + ", ".join(RULE_KEYS), origin
            )
    query = table.get("query", "")
    if not isinstance(query, str):
        raise _problem(name, "query", query, "expected a string (finews search syntax)", origin)
    if len(query) > MAX_QUERY_CHARS:
        raise _problem(
            name, "query", query[:40] + "…", f"at most {MAX_QUERY_CHARS} characters", origin
        )
    kept, excluded = split_query(query)
    try:
        include = parse_query(kept) if kept.strip() else None
        exclude = tuple(parse_query(word) for word in excluded)
    except QueryError as exc:
        raise _problem(name, "query", query, str(exc), origin) from exc
    stocks: list[str] = []
    for code in _strings(name, "stocks", table.get("stocks", []), origin):
        found = security(code)
        if found is None:
            raise _problem(
                name,
                "stocks",
                code,
                "a security code, e.g. 600519, sh600519, 0700.HK, usAAPL",
                origin,
            )
        stocks.append(found)
    sources = _strings(name, "sources", table.get("sources", []), origin)
    if known_sources is not None:
        for source in sources:
            if source not in known_sources:
                raise _problem(
                    name,
                    "sources",
                    source,
                    "a configured source id: " + ", ".join(known_sources),
                    origin,
                )
    importance = table.get("min_importance", 0)
    if not isinstance(importance, int) or isinstance(importance, bool) or not 0 <= importance <= 10:
        raise _problem(name, "min_importance", importance, "a whole number from 0 to 10", origin)
    notify = _strings(name, "notify", table.get("notify", []), origin)
    for url in notify:
        if not _SCHEME.match(url):
            raise _problem(
                name,
                "notify",
                channel_label(url),
                "an Apprise URL such as tgram://… or json://…",
                origin,
            )
    flags = {}
    for key in ("mute", "follow_up"):
        flag = table.get(key, False)
        if not isinstance(flag, bool):
            raise _problem(name, key, flag, "true or false", origin)
        flags[key] = flag
    if not notify and not flags["mute"]:
        raise _problem(
            name,
            "notify",
            [],
            'a rule does something: give notify = ["<Apprise URL>"] or mute = true',
            origin,
        )
    forms = frozenset(form for code in stocks for form in stored_forms(code))
    mentions = frozenset(term for code in stocks for term in mention_terms(code))
    return Rule(
        name=name,
        query=query,
        include=include,
        exclude=exclude,
        stocks=tuple(dict.fromkeys(stocks)),
        sources=sources,
        min_importance=importance,
        notify=notify,
        mute=flags["mute"],
        follow_up=flags["follow_up"],
        _forms=forms,
        _mentions=mentions,
        _include=None if include is None else terms_of(include),
        _exclude=tuple(terms_of(parsed) for parsed in exclude),
    )
