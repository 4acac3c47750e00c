"""OPML 2.0 subscription lists (http://opml.org/spec2.opml): read and write feed outlines.

Pure: bytes in, :class:`Outline` values out, and back. Reading goes through ``defusedxml``
with DTDs forbidden: an OPML file comes from elsewhere, and a DTD is how entity bombs
("billion laughs") and external entities (``file:///etc/passwd``) get in; OPML never needs
one. Writing builds the tree with ``xml.etree`` (never strings), so any title or URL is
escaped correctly. A folder outline (one without ``xmlUrl``) is kept as each feed's
``folder``, nested folders joined with ``/``, and written back as folders.
"""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET  # writing only; reading is defusedxml's
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from finews.errors import ParseError

__all__ = ["Outline", "read_opml", "write_opml"]

#: Nesting deeper than this is not a subscription list (and would be a way to exhaust us).
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Outline:
    """One feed of a subscription list."""

    title: str
    xml_url: str
    html_url: str = ""
    folder: str = ""


def read_opml(data: bytes, *, where: str = "") -> list[Outline]:
    """The feeds of an OPML document, in document order.

    :class:`ParseError` (naming ``where``, e.g. the file) for XML that is malformed, holds a
    DTD or entities, or is not OPML.
    """
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise ParseError(
            f"refused: the OPML file declares a DTD or entities ({type(exc).__name__}); "
            "subscription lists need neither",
            url=where,
        ) from exc
    except (ET.ParseError, ValueError) as exc:
        raise ParseError(f"not well-formed XML: {exc}", url=where) from exc
    if root.tag != "opml":
        raise ParseError(f"not OPML: the root element is <{root.tag}>", url=where)
    body = root.find("body")
    if body is None:
        raise ParseError("not OPML: no <body>", url=where)
    found: list[Outline] = []
    # Depth-first with an explicit stack: recursion would fail on deep (hostile) nesting.
    stack: list[tuple[ET.Element, tuple[str, ...]]] = [
        (child, ()) for child in reversed(body.findall("outline"))
    ]
    while stack:
        node, folders = stack.pop()
        if len(folders) > MAX_DEPTH:
            raise ParseError(f"outlines nested deeper than {MAX_DEPTH} levels", url=where)
        title = (node.get("title") or node.get("text") or "").strip()
        xml_url = (node.get("xmlUrl") or "").strip()
        if xml_url:
            found.append(
                Outline(
                    title=title,
                    xml_url=xml_url,
                    html_url=(node.get("htmlUrl") or "").strip(),
                    folder="/".join(folders),
                )
            )
        inner = (*folders, title.replace("/", "／")) if not xml_url else folders
        stack.extend((child, inner) for child in reversed(node.findall("outline")))
    return found


def write_opml(
    outlines: Iterable[Outline], *, title: str = "finews feeds", now: datetime | None = None
) -> bytes:
    """An OPML 2.0 document (UTF-8, with declaration) listing ``outlines``; feeds with a
    ``folder`` go inside folder outlines, in first-seen order."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    created = now if now is not None else datetime.now(UTC)
    ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(created)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for outline in outlines:
        parent = body
        path = ""
        for name in filter(None, outline.folder.split("/")):
            path = f"{path}/{name}"
            if path not in folders:
                folders[path] = ET.SubElement(parent, "outline", text=name, title=name)
            parent = folders[path]
        attributes = {
            "type": "rss",
            "text": outline.title or outline.xml_url,
            "title": outline.title or outline.xml_url,
            "xmlUrl": outline.xml_url,
        }
        if outline.html_url:
            attributes["htmlUrl"] = outline.html_url
        ET.SubElement(parent, "outline", attributes)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
