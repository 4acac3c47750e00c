"""What every output of every command must satisfy, as functions returning problems.

Each check returns a list of human-readable problems (empty: fine), each naming the output
it was found in, so one run reports every failure at once instead of the first.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import lxml.html
import yaml
from lxml import etree

from hostile.corpus import CANARY, SECRET

#: schemes that run script or load a document from the link itself
_BAD_SCHEME = re.compile(r"^(javascript|vbscript|data|livescript|mocha):", re.IGNORECASE)
_URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "{http://www.w3.org/1999/xlink}href",
    "poster",
    "background",
    "lowsrc",
    "dynsrc",
    "data",
    "codebase",
    "cite",
    "ping",
    "manifest",
}
_ACTIVE_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base"}
_FOREIGN_TAGS = {"svg", "math"}  # mutation XSS lives in namespace confusion
# what a data: URL may carry in a page: images the sanitiser kept, never documents or SVG
_SAFE_DATA = re.compile(r"^data:(image/(png|gif|jpeg|webp)(;base64)?,|,$)", re.IGNORECASE)
_ATOM = "{http://www.w3.org/2005/Atom}"
_STYLE_BAD = re.compile(r"expression\s*\(|url\s*\(\s*['\"]?\s*(javascript|vbscript|data):", re.I)


def _scheme_text(value: str) -> str:
    """A URL as a browser reads its scheme (the URL standard): entities decoded, C0
    controls and spaces trimmed from both ends, tabs and newlines removed anywhere. (A
    space inside "java script:" leaves no scheme: a relative link.)"""
    value = html.unescape(value).strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r"
        "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
    )
    return re.sub(r"[\t\n\r]+", "", value)


def html_problems(text: str, where: str, *, own_scripts: Iterable[str] = ()) -> list[str]:
    """Executable markup in an HTML document or fragment.

    ``own_scripts`` are ``src`` prefixes of the site's own scripts (allowed)."""
    if not text.strip():
        return []
    problems: list[str] = []
    try:
        root = lxml.html.fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        return [f"{where}: unparsable HTML ({exc})"]
    allowed = tuple(own_scripts)
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        name = tag.rsplit("}", 1)[-1].lower()
        if name == "script":
            src = element.get("src") or ""
            if not (allowed and src.startswith(allowed) and not (element.text or "").strip()):
                problems.append(f"{where}: <script src={src!r}>{(element.text or '')[:60]!r}")
        elif name in _ACTIVE_TAGS or name in _FOREIGN_TAGS:
            problems.append(f"{where}: <{name}>")
        elif name == "meta" and (element.get("http-equiv") or "").lower() == "refresh":
            problems.append(f"{where}: <meta http-equiv=refresh>")
        elif name == "link" and (element.get("rel") or "").lower() == "import":
            problems.append(f"{where}: <link rel=import>")
        for attribute, value in element.attrib.items():
            key = attribute.lower()
            short = key.rsplit("}", 1)[-1]
            if short.startswith("on"):
                problems.append(f"{where}: <{name} {attribute}={value[:60]!r}>")
            elif short == "srcdoc":
                problems.append(f"{where}: <{name} srcdoc>")
            elif short == "style" and _STYLE_BAD.search(html.unescape(value)):
                problems.append(f"{where}: <{name} style={value[:60]!r}>")
            elif key in _URL_ATTRIBUTES or short in _URL_ATTRIBUTES or short == "srcset":
                url = _scheme_text(value)
                if _BAD_SCHEME.match(url) and not _SAFE_DATA.match(url):
                    problems.append(f"{where}: <{name} {attribute}={value[:60]!r}>")
    return problems


_FRONT = re.compile(r"\A---\n(.*?)\n---\n?", re.DOTALL)
# kramdown block/span IAL, ALD and extensions: "{:" or "{::" not escaped by a backslash
_IAL = re.compile(r"(?<!\\)\{:")
# (kramdown's \s is Ruby's: ASCII whitespace only)
_AUTOLINK = re.compile(r"(?<!\\)<(https?|ftp|mailto):[^<>\t\n\v\f\r ]*>", re.IGNORECASE)
_LIQUID = re.compile(r"(?<!\\)\{[{%]")
# whitespace within one paragraph: a blank line ends a link, a definition or an autolink
_GAP = r"[ \t]*(?:\n[ \t]*)?"
# a link's target, a definition's, or an autolink: "<" straight before the scheme (after
# whitespace, "<" opens neither an autolink nor a tag)
_MD_LINK_SCHEME = re.compile(
    rf"(?:(?:(?<!\\)\]\({_GAP}<?|^\s{{0,3}}\[[^\]]*(?<!\\)\]:{_GAP}<?)[ \t]*|(?<!\\)<)"
    r"(javascript|vbscript|data)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


def markdown_problems(text: str, where: str) -> list[str]:
    """Live markup in a Jekyll post or page: executable raw HTML, kramdown attribute lists
    and extensions, Liquid, Markdown links to script; and front matter that is not a plain
    YAML mapping."""
    problems: list[str] = []
    match = _FRONT.match(text)
    if match is None:
        return [f"{where}: no front matter"]
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        problems.append(f"{where}: front matter is not YAML ({str(exc)[:80]})")
    else:
        if not isinstance(front, dict):
            problems.append(f"{where}: front matter is not a mapping")
    # an autolink (<https://…>) is one link to kramdown, whatever its URL holds: neither a
    # tag nor Markdown
    body = _AUTOLINK.sub("", text[match.end() :])
    problems += html_problems(body, where)
    if _IAL.search(body):
        problems.append(f"{where}: live kramdown attribute list {_excerpt(body, _IAL)}")
    # (front matter values are data: Jekyll never renders Liquid in them)
    if _LIQUID.search(body):
        problems.append(f"{where}: live Liquid {_excerpt(body, _LIQUID)}")
    if _MD_LINK_SCHEME.search(body):
        problems.append(f"{where}: link to script {_excerpt(body, _MD_LINK_SCHEME)}")
    return problems


def _excerpt(text: str, pattern: re.Pattern[str]) -> str:
    found = pattern.search(text)
    if found is None:
        return ""
    return repr(text[max(0, found.start() - 20) : found.end() + 40])


def xml_problems(data: bytes, where: str) -> list[str]:
    """A feed that is not well-formed XML, or whose HTML payloads would run script."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"{where}: not well-formed XML ({exc})"]
    problems: list[str] = []
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        local = tag.rsplit("}", 1)[-1]
        # what a feed reader renders as HTML: RSS <description> and content:encoded
        # always, Atom text constructs only when they say type="html"
        if tag.startswith(_ATOM):
            markup = element.get("type") == "html"
        else:
            markup = local in ("description", "encoded")
        if markup and element.text:
            problems += html_problems(element.text, f"{where} <{local}>")
        for attribute, value in element.attrib.items():
            if attribute in ("href", "src") and _BAD_SCHEME.match(_scheme_text(value)):
                problems.append(f"{where}: <{local} {attribute}={value[:60]!r}>")
        text = element.text or ""
        if local in ("link", "id", "guid") and _BAD_SCHEME.match(_scheme_text(text)):
            problems.append(f"{where}: <{local}>{element.text[:60]!r}")
    return problems


def json_problems(data: bytes, where: str) -> list[str]:
    """JSON that does not parse, HTML in it that would run script, links to script."""
    try:
        value = json.loads(data)
    except ValueError as exc:
        return [f"{where}: not JSON ({exc})"]
    problems: list[str] = []

    def walk(node: object, key: str) -> None:
        if isinstance(node, dict):
            for name, child in node.items():
                walk(child, str(name))
        elif isinstance(node, list):
            for child in node:
                walk(child, key)
        elif isinstance(node, str):
            if key in ("content_html", "html", "snippet") or key.endswith("_html"):
                problems.extend(html_problems(node, f"{where} {key}"))
            elif key in ("url", "external_url", "link", "href") and _BAD_SCHEME.match(
                _scheme_text(node)
            ):
                problems.append(f"{where} {key}: {node[:60]!r}")

    walk(value, "")
    return problems


def leak_problems(data: bytes | str, where: str) -> list[str]:
    """The secret of the secret source, or the XXE canary file's text, in an output."""
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    problems = []
    if SECRET in text:
        at = text.index(SECRET)
        problems.append(f"{where}: secret leaked: {text[max(0, at - 60) : at + 20]!r}")
    if CANARY in text:
        problems.append(f"{where}: the XXE canary file was read into the output")
    return problems


_TERMINAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x9b]")


def terminal_problems(output: str, where: str) -> list[str]:
    """Control characters in what a command prints: escape sequences an upstream sent
    would drive the operator's terminal."""
    found = _TERMINAL.search(output)
    if found is None:
        return []
    around = output[max(0, found.start() - 60) : found.end() + 20]
    return [f"{where}: control character in the output: {around!r}"]


def crash_problems(log: str, where: str) -> list[str]:
    """Tracebacks in a command's output: bad input must end in a logged reason, never one."""
    if "Traceback (most recent call last)" not in log:
        return []
    at = log.index("Traceback (most recent call last)")
    return [f"{where}: traceback: {log[at : at + 1500]}"]


def snapshot(root: Path, *, skip: Iterable[Path] = ()) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (not following links) with size and mtime, except those
    under the ``skip`` folders: compare two snapshots to find writes outside a target."""
    skipped = [p.resolve() for p in skip]
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if (here / d).resolve() not in skipped]
        for name in dirs:  # a folder's own time changes with what is written inside it
            found[str((here / name).relative_to(root))] = (0, 0)
        for name in files:
            stat = (here / name).lstat()
            found[str((here / name).relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def outside_writes(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], where: str
) -> list[str]:
    """Files created or changed between two snapshots."""
    changed = sorted(k for k, v in after.items() if before.get(k) != v)
    return [f"{where}: wrote outside its target: {name}" for name in changed]
