"""Search terms for Chinese text: what both databases index, what a query asks, and hits
highlighted in the original text.

Why bigrams (measured in BENCHMARKS.md, "Search and clustering"): SQLite's ``unicode61``
keeps a run of Han characters as one token and PostgreSQL's ``simple`` parser one lexeme,
so neither can find 降息 inside 央行宣布降息; the ``trigram`` tokenizer cannot find one- or
two-character words at all. Word segmentation (rjieba) finds 降息 only where the segmenter
cut the text the same way as the query, so 长安 misses 长安汽车 and recall depends on a
dictionary. Overlapping bigrams need no dictionary, find every substring of two or more
characters exactly (consecutive bigrams of a run), and work the same on both engines.

The terms of an item, in three fields:

- ``title`` and ``body`` (digest, then full text, as plain text): a stream of tokens in text
  order. A run of two or more Han characters gives its overlapping bigrams and then its
  last character (央行降息 → 央行 行降 降息 息), a lone Han character itself; a run of
  letters one lower-case word (ETF → etf), a run of digits one number (600519); letters and
  digits are split (5G → 5 g, 50ETF → 50 etf) so that "ETF" finds 科创50ETF. Text is
  NFKC-folded first (ＥＴＦ = ETF). The run's last character keeps the token after a run
  adjacent to the run in every text (中证500 → 中证 证 500), so mixed terms match as
  phrases.
- ``chars``: each Han character of the other two, once. A one-character query reads one
  list here; as a prefix of the bigrams (息*) it merged thousands of lists and took 47 ms
  at 100,000 items (measured, 3.4 ms with this field, which makes the index about 40 %
  bigger).

A query is split into terms at anything that is not a letter, digit or Han character
(except a ``.`` or ``,`` inside a number or code: 1.70, 600519.SH), or kept whole inside
double quotes, where Chinese words separated by spaces are joined ("长安 汽车" = 长安汽车).
Each term becomes a phrase of the same tokens (consecutive positions), all terms ANDed;
there are no operators, so ``-``, ``*``, ``(``, ``"``, ``NEAR`` and ``OR`` are ordinary text
and no input can produce a syntax error. A Han run at the end of a term leaves out its last
character (the text may go on: 长安汽 finds 长安汽车), and a lone Han character at the end of
a term is a prefix (A股 finds A股市场).

A term with Chinese characters matches in either script: it is also looked for in its other
forms (:func:`finews.normalize.variant.variants`: Simplified, and Traditional as OpenCC,
Taiwan and Hong Kong write it), any of which may match, so 東方財富 finds 东方财富 and the
reverse, 台积电 finds 台積電 and 臺積電, and hits are highlighted in the form the text has.
The index is not involved (items are indexed as written), so this needs no reindex; a
term without Chinese characters is left as it is (and OpenCC is not loaded for it).

Both engines get exactly these tokens: SQLite an FTS5 table tokenised by ``unicode61`` over
space-separated terms, PostgreSQL a ``tsvector`` built from a literal (no parser involved).
PostgreSQL keeps at most 256 positions of one lexeme and none past 16383; streams are cut
to fit, and on SQLite the 257th and later occurrences of a token become :data:`FILLER`, so
phrases match the same way on both.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from finews.errors import FinewsError
from finews.normalize.variant import variants

__all__ = [
    "FILLER",
    "MAX_QUERY_CHARS",
    "TOKENIZER_VERSION",
    "Clause",
    "DocTerms",
    "ParsedQuery",
    "QueryError",
    "doc_terms",
    "fold",
    "highlight",
    "parse_query",
    "plain_prefix",
    "plain_text",
    "snippet",
    "tokens",
]

#: Bump when tokens change: an index built by another version must be rebuilt.
TOKENIZER_VERSION = 1
#: Longest query accepted, in characters.
MAX_QUERY_CHARS = 200
#: Most terms in one query.
MAX_TERMS = 16
#: Tokens kept from a title and from a body (body text past this is not searchable).
MAX_TITLE_TOKENS = 200
MAX_BODY_TOKENS = 12_000
#: PostgreSQL keeps this many positions of one lexeme per document.
MAX_POSITIONS = 256
#: Longest token; longer letter or digit runs are cut (in documents and queries alike).
MAX_TOKEN_CHARS = 64
#: Where the ``chars`` field sits in a tsvector: after every stream position.
CHARS_POSITION = 16_383
#: Stands, on SQLite, where PostgreSQL drops a position; no query can produce it, since
#: queries split letters from digits.
FILLER = "x0"

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN_RUN = re.compile(rf"([{_HAN}]+)|([0-9]+)|([a-z]+)|((?:(?![{_HAN}])[^\W\d_])+)")
_HAN_CHAR = re.compile(f"[{_HAN}]")
_HAN_RUN = re.compile(f"[{_HAN}]+")
#: One token per match, in text order, exactly as :func:`_run_tokens` cuts the runs: a Han
#: character followed by another gives their bigram (a look-ahead capture; only the first
#: character is consumed), one that ends its run itself; a number, a lower-case word or
#: another letter run its first MAX_TOKEN_CHARS characters. The regex engine does in C what
#: a loop over runs did in Python.
_TOKEN = re.compile(
    rf"(?=([{_HAN}]{{2}}))[{_HAN}]|([{_HAN}])"
    rf"|([0-9]{{1,{MAX_TOKEN_CHARS}}})[0-9]*"
    rf"|([a-z]{{1,{MAX_TOKEN_CHARS}}})[a-z]*"
    rf"|((?:(?![{_HAN}])[^\W\d_]){{1,{MAX_TOKEN_CHARS}}})(?:(?![{_HAN}])[^\W\d_])*"
)
_QUOTED = re.compile(r'"([^"]*)"?')
_BLOCK_TAG = re.compile(
    r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|section|article|hr)\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_DROPPED_ELEMENTS = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")
# A tag or character reference left open where a prefix of marked-up text was cut.
_OPEN_TAIL = re.compile(r"<[^>]*$|&#?[A-Za-z0-9]*$")
_QUOTE_MARKS = str.maketrans({"“": '"', "”": '"', "＂": '"', "「": '"', "」": '"'})


class QueryError(FinewsError):
    """A search query that cannot be run (empty or too long); the message says why."""


def plain_text(text: str) -> str:
    """Text without tags, scripts or entities, runs of whitespace made one space. A block
    tag (``<p>``, ``<br>``…) separates words; an inline one (``<b>半导体</b>设备``) does not."""
    if "<" in text:
        text = _DROPPED_ELEMENTS.sub(" ", text)
        text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    return _SPACES.sub(" ", text).strip()


def plain_prefix(text: str, limit: int) -> str:
    """The first ``limit`` characters of :func:`plain_text` of ``text``: markup is removed
    before the cut, so a short text (a meta description, a fallback title, a fingerprint's
    lead) never ends inside a tag nor shows ``<img src="…`` as words.

    Only as much of a long text is read as the prefix needs: a window of the raw text,
    dropping a tag or entity the window cut open, widened until it gives more than
    ``limit`` plain characters or holds the whole text."""
    if limit <= 0:
        return ""
    window = max(4 * limit, 256)
    while True:
        raw = text[:window]
        whole = len(raw) == len(text)
        plain = plain_text(raw if whole else _OPEN_TAIL.sub("", raw))
        if whole or len(plain) > limit:
            return plain[:limit]
        window *= 2


#: full-width ASCII and the ideographic space, which NFKC maps to their ASCII forms
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")


def _half_width(match: re.Match[str]) -> str:
    char = match[0]
    return " " if char == "\u3000" else chr(ord(char) - 0xFEE0)


def fold(text: str) -> str:
    """Text as terms are read from it: NFKC (full-width to ASCII), lower case."""
    # Chinese text is NFKC already but for its full-width punctuation: map that first (a
    # substitution of the few such characters costs a quarter of str.translate over all),
    # and skip the (costly) normalisation when the quick check then passes
    text = _FULL_WIDTH.sub(_half_width, text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def _runs(folded: str) -> Iterator[tuple[str, str]]:
    """(kind, run) pairs in text order; kind is ``han``, ``num`` or ``word``."""
    for match in _TOKEN_RUN.finditer(folded):
        han, num, ascii_word, word = match.groups()
        if han:
            yield "han", han
        elif num:
            yield "num", num[:MAX_TOKEN_CHARS]
        else:
            yield "word", (ascii_word or word)[:MAX_TOKEN_CHARS]


def _run_tokens(kind: str, run: str, *, last: bool = True) -> list[str]:
    """A run's tokens: a word or number, a lone character, or a Han run's bigrams and
    (``last``) its last character."""
    if kind != "han" or len(run) == 1:
        return [run]
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    if last:
        bigrams.append(run[-1])
    return bigrams


def tokens(text: str, limit: int | None = None, chars: set[str] | None = None) -> list[str]:
    """The token stream of a (plain) text, at most ``limit`` tokens; the Han characters
    of the runs it took are added to ``chars``."""
    folded = fold(text)
    found = [a or b or c or d or e for a, b, c, d, e in _TOKEN.findall(folded)]
    if limit is None or len(found) <= limit:
        if chars is not None:
            chars.update("".join(_HAN_RUN.findall(folded)))
        return found
    # cut short (rare): only the runs the limit reaches give their characters
    found = []
    for kind, run in _runs(folded):
        if kind == "han" and chars is not None:
            chars.update(run)
        found += _run_tokens(kind, run)
        if len(found) >= limit:
            break
    return found[:limit]


def _is_han(token: str) -> bool:
    """Whether a token (or character) starts with a Han character."""
    return _HAN_CHAR.match(token) is not None


@dataclass(frozen=True, slots=True)
class DocTerms:
    """The indexed terms of one item (see the module docstring)."""

    title: tuple[str, ...]
    body: tuple[str, ...]
    chars: tuple[str, ...]

    def fts_columns(self) -> tuple[str, str, str]:
        """``title``, ``body`` and ``chars`` as FTS5 column texts (space-separated)."""
        chars = " ".join(self.chars)
        if len(self.title) + len(self.body) <= MAX_POSITIONS:
            return " ".join(self.title), " ".join(self.body), chars
        seen: dict[str, int] = {}
        columns = []
        for stream in (self.title, self.body):
            out = []
            for token in stream:
                count = seen.get(token, 0) + 1
                seen[token] = count
                out.append(token if count <= MAX_POSITIONS else FILLER)
            columns.append(" ".join(out))
        return columns[0], columns[1], chars

    def tsvector(self) -> str:
        """The PostgreSQL ``tsvector`` literal: title at weight A, body at B after a gap of
        one position (so that no phrase spans the two), each character at D, last."""
        positions: dict[str, list[str]] = {}
        start = 1
        for stream, weight in ((self.title, "A"), (self.body, "B")):
            for offset, token in enumerate(stream):
                kept = positions.setdefault(token, [])
                if len(kept) < MAX_POSITIONS:
                    kept.append(f"{start + offset}{weight}")
            start += len(stream) + 1
        for char in self.chars:
            kept = positions.setdefault(char, [])
            if len(kept) < MAX_POSITIONS:
                kept.append(f"{CHARS_POSITION}D")
        # tokens never hold a quote or a backslash, but escape them anyway
        return " ".join(
            "'" + token.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(places)
            for token, places in positions.items()
        )


def doc_terms(title: str, digest: str, content: str) -> DocTerms:
    """The terms of an item from its title, digest and content (HTML or plain)."""
    body_text = plain_text(content)
    digest_text = plain_text(digest)
    if digest_text and digest_text not in body_text:
        # a digest is usually the lead of the full text: index it once, not twice
        body_text = f"{digest_text} {body_text}"
    chars: set[str] = set()
    title_tokens = tokens(plain_text(title), MAX_TITLE_TOKENS, chars)
    body_tokens = tokens(body_text, MAX_BODY_TOKENS, chars)
    return DocTerms(tuple(title_tokens), tuple(body_tokens), tuple(sorted(chars)))


@dataclass(frozen=True, slots=True)
class Clause:
    """One term of a query: tokens that must stand in consecutive positions; the last one
    matches as a prefix when ``prefix``."""

    tokens: tuple[str, ...]
    prefix: bool = False

    #: the same term in the other script(s) (東方財富 for 东方财富): phrases, without
    #: alternatives of their own, any of which may match instead
    alternatives: tuple[Clause, ...] = ()

    def phrases(self) -> tuple[tuple[tuple[str, ...], bool], ...]:
        """(tokens, prefix) of the term as written and of each alternative."""
        own = ((self.tokens, self.prefix),)
        return own + tuple((a.tokens, a.prefix) for a in self.alternatives)

    def fts5(self) -> str:
        """The clause in FTS5 query syntax (every token quoted: never an operator), its
        phrases in an ``OR`` group when it has alternatives."""
        phrases = [_fts5_phrase(tokens, prefix) for tokens, prefix in self.phrases()]
        return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"

    def tsquery(self) -> str:
        """The clause as PostgreSQL ``tsquery`` text, its phrases ORed (``|``) when it has
        alternatives."""
        phrases = [_tsquery_phrase(tokens, prefix) for tokens, prefix in self.phrases()]
        return phrases[0] if len(phrases) == 1 else "(" + " | ".join(phrases) + ")"


def _fts5_phrase(tokens: Sequence[str], prefix: bool) -> str:
    text = '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'
    return text + " *" if prefix else text


def _tsquery_phrase(tokens: Sequence[str], prefix: bool) -> str:
    parts = ["'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in tokens]
    if prefix:
        parts[-1] += ":*"
    return "(" + " <-> ".join(parts) + ")"


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query as both engines run it: clauses ANDed, and the texts to highlight."""

    text: str
    clauses: tuple[Clause, ...]
    needles: tuple[str, ...]

    def fts5(self) -> str:
        """The FTS5 ``MATCH`` expression."""
        return " AND ".join(clause.fts5() for clause in self.clauses)

    def tsquery(self) -> str:
        """The PostgreSQL ``tsquery`` text (cast with ``::tsquery``, no parser)."""
        return " & ".join(clause.tsquery() for clause in self.clauses)


def _phrase(runs: Sequence[tuple[str, str]]) -> Clause:
    """One term's phrase: the tokens the text has wherever the term occurs in it."""
    phrase: list[str] = []
    for index, (kind, run) in enumerate(runs):
        # a run's last character is a token only where the run ends, which at the end of
        # the term is unknown (长安汽 may be part of 长安汽车)
        phrase += _run_tokens(kind, run, last=index < len(runs) - 1)
    kind, run = runs[-1]
    # a lone Han character at the end: the text's run may go on (A股 in A股市场); alone it
    # is found in the chars field
    prefix = kind == "han" and len(run) == 1 and len(runs) > 1
    return Clause(tuple(phrase), prefix=prefix)


def _term_forms(runs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """A term's runs as written, then in each other form of its Chinese (Simplified and
    Traditional, see :func:`~finews.normalize.variant.variants`); only as written when it
    has no Han run."""
    if not any(kind == "han" for kind, _ in runs):
        return [runs]
    # runs joined by spaces split again the same way (two Han runs never touch in a term)
    forms = variants(" ".join(run for _, run in runs))
    others = (list(_runs(fold(form))) for form in forms[1:])
    return [runs, *(other for other in others if other)]


def parse_query(text: str, *, match_variants: bool = True) -> ParsedQuery:
    """The clauses of a reader's query; :class:`QueryError` when it has no searchable
    character or is longer than :data:`MAX_QUERY_CHARS`. Each term with Chinese characters
    also matches its Simplified and Traditional forms unless ``match_variants`` is false."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query has {len(text)} characters; search for at most {MAX_QUERY_CHARS}"
        )
    folded = fold(text.translate(_QUOTE_MARKS))
    terms: list[list[tuple[str, str]]] = []
    position = 0
    for quoted in _QUOTED.finditer(folded):
        terms.extend(_split_terms(folded[position : quoted.start()]))
        inside = _joined_han(list(_runs(quoted[1])))
        if inside:
            terms.append(inside)
        position = quoted.end()
    terms.extend(_split_terms(folded[position:]))
    clauses: list[Clause] = []
    seen: set[frozenset[tuple[tuple[str, ...], bool]]] = set()
    needles: set[str] = set()
    for term in terms:
        forms = _term_forms(term) if match_variants else [term]
        phrases = list(dict.fromkeys(_phrase(form) for form in forms))
        clause = Clause(phrases[0].tokens, phrases[0].prefix, tuple(phrases[1:]))
        # 东方财富 and 東方財富 are one term, whichever is written first
        key = frozenset(clause.phrases())
        if key not in seen:
            seen.add(key)
            clauses.append(clause)
        needles.update(run for form in forms for _, run in form)
    if not clauses:
        raise QueryError("the query has no letter, digit or Chinese character to search for")
    if len(clauses) > MAX_TERMS:
        raise QueryError(f"the query has {len(clauses)} terms; use at most {MAX_TERMS}")
    ordered = sorted(needles, key=lambda n: (-len(n), n))
    return ParsedQuery(text=text, clauses=tuple(clauses), needles=tuple(ordered))


def _joined_han(runs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Han runs next to each other in a quoted phrase become one: Chinese has no spaces
    between words, so "长安 汽车" means 长安汽车."""
    joined: list[tuple[str, str]] = []
    for kind, run in runs:
        if kind == "han" and joined and joined[-1][0] == "han":
            joined[-1] = ("han", joined[-1][1] + run)
        else:
            joined.append((kind, run))
    return joined


def _split_terms(folded: str) -> list[list[tuple[str, str]]]:
    """Terms outside quotes: runs that touch each other form one term, and so do letter or
    digit runs joined by one ``.`` or ``,`` (1.70, 1,000, 600519.sh)."""
    terms: list[list[tuple[str, str]]] = []
    end = -1
    for match in _TOKEN_RUN.finditer(folded):
        kind, run = next(_runs(match[0]))
        joined = match.start() == end or (
            match.start() == end + 1
            and folded[end] in ".,"
            and kind != "han"
            and terms
            and terms[-1][-1][0] != "han"
        )
        if joined and terms:
            terms[-1].append((kind, run))
        else:
            terms.append([(kind, run)])
        end = match.end()
    return terms


# --- highlighting ------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    return fold(char)


def _folded_with_map(text: str) -> tuple[str, list[int] | None]:
    """The folded text and, for each of its characters, the index of the original one
    (``None`` when folding kept every character in place, the usual case)."""
    whole = fold(text)
    if len(whole) == len(text):
        return whole, None
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char) if ord(char) > 0x40 else char
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), origin


def _spans(text: str, needles: Sequence[str]) -> list[tuple[int, int]]:
    """Where needles occur in ``text``: (start, end) in original indexes, merged, sorted.
    Letter and digit needles count only as whole runs (etf not inside netflix)."""
    if not needles or not text:
        return []
    folded, origin = _folded_with_map(text)
    found: list[tuple[int, int]] = []
    for needle in needles:
        whole = not _is_han(needle[:1] or "a")
        start = folded.find(needle)
        while start != -1:
            end = start + len(needle)
            if not whole or _whole_run(folded, start, end):
                if origin is None:
                    found.append((start, end))
                else:
                    found.append((origin[start], origin[end - 1] + 1))
            start = folded.find(needle, start + 1)
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _same_class(a: str, b: str) -> bool:
    return (a.isdigit() and b.isdigit()) or (
        a.isalpha() and b.isalpha() and not _is_han(a) and not _is_han(b)
    )


def _whole_run(folded: str, start: int, end: int) -> bool:
    before = folded[start - 1] if start > 0 else " "
    after = folded[end] if end < len(folded) else " "
    return not _same_class(before, folded[start]) and not _same_class(folded[end - 1], after)


def _marked(text: str, spans: Sequence[tuple[int, int]], offset: int = 0) -> Markup:
    parts: list[str] = []
    at = 0
    for start, end in spans:
        start, end = max(start - offset, 0), min(end - offset, len(text))
        if end <= start or start < at:
            continue
        parts.append(html.escape(text[at:start], quote=False))
        parts.append("<mark>" + html.escape(text[start:end], quote=False) + "</mark>")
        at = end
    parts.append(html.escape(text[at:], quote=False))
    return Markup("".join(parts))  # noqa: S704 - every piece was escaped just above


def highlight(text: str, needles: Sequence[str]) -> Markup:
    """``text`` HTML-escaped, each occurrence of a needle wrapped in ``<mark>``."""
    return _marked(text, _spans(text, needles))


def snippet(text: str, needles: Sequence[str], width: int = 120) -> Markup:
    """About ``width`` characters of ``text`` around its first hit (its start when none),
    escaped, hits marked, ``…`` where it was cut."""
    text = plain_text(text)
    # hits are usually near the start: look there first, then further
    spans = _spans(text[: width * 3], needles) or _spans(text[: width * 20], needles)
    start = max(spans[0][0] - width // 5, 0) if spans else 0
    end = min(start + width, len(text))
    start = max(min(start, end - width), 0)
    window = text[start:end]
    marked = _marked(window, [s for s in spans if s[1] > start and s[0] < end], offset=start)
    # "…" is plain text: escape() keeps it as it is
    prefix = escape("…" if start > 0 else "")
    suffix = escape("…" if end < len(text) else "")
    return prefix + marked + suffix
