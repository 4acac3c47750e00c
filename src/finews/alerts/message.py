"""The text of an alert: title, Beijing time, sources, importance, securities, the link
to finews's own article page (``site.public_url``) and to the original."""

from __future__ import annotations

from collections.abc import Sequence

from finews.models import Item
from finews.normalize.times import shanghai_wall
from finews.process.index import plain_prefix
from finews.publish.urls import article_path

__all__ = ["alert_text", "article_link"]

#: characters of the digest an alert carries
DIGEST_CHARS = 240


def article_link(item: Item, public_url: str) -> str | None:
    """The item's page on finews's public site (``None`` without ``site.public_url``)."""
    if not public_url:
        return None
    return public_url.rstrip("/") + article_path(item)


def alert_text(
    item: Item,
    *,
    rule: str,
    kind: str,
    sources: Sequence[str],
    public_url: str,
) -> tuple[str, str]:
    """(title, body) of one alert. ``kind`` is ``first`` (the story's first match) or
    ``important`` (the follow-up when it became important); ``sources`` the display names
    of the story's sources so far."""
    title = item.title or plain_prefix(item.digest, 60) or "（无标题）"
    head = "【重要】" if kind == "important" else ""
    lines = [f"{shanghai_wall(item.published_at)} 北京时间 · {' / '.join(sources)}"]
    facts = [f"规则 {rule}"]
    if item.importance > 0:
        facts.append(f"重要性 {item.importance}")
    if item.stocks:
        facts.append("证券 " + " ".join(item.stocks[:8]))
    lines.append(" · ".join(facts))
    digest = plain_prefix(item.digest, DIGEST_CHARS)
    if digest and digest != title:
        lines += ["", digest]
    link = article_link(item, public_url)
    lines.append("")
    if link:
        lines.append(f"finews: {link}")
    if item.url:
        lines.append(f"原文: {item.url}")
    return head + title, "\n".join(lines).rstrip()
