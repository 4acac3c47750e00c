"""The 热点 board: the stories of the last hours, ranked by how many sources told them, how
fast, and how important they are.

finews knows which reports are one story (``item_clusters``), so it can count the distinct
sources that reported a story, which no single source's own list can. The board reads the
items published in the last ``hours`` (the ``site.hot_hours`` setting, default 6), groups
them by story (an item not in a story of several reports is a story of its own), adds each
story's first report when it came before the window, and scores each story:

    热度 = 来源数 × (1 + 重要性) × 速度系数

- **来源数** (sources, *S*): the distinct sources among the story's reports in the window
  and its first report, a source being the name a list row shows (``site.display_name``:
  the tag, else the media, else the category), so 新华财经 carried by two sites counts once.
- **重要性** (importance): the highest importance of those reports (0, 1 or 2).
- **速度系数** (speed): ``1 + 60 / (60 + T)``, *T* the minutes from the story's first report
  to the first report of its *N*-th source, *N* = min(*S*, 3); 1 for a story of one source.
  Three sources within minutes double the score; the same three over three hours add a fifth.

Ties go to the story reported last, then to the newer story. The live app computes the
board as of the current minute; the static build as of the build. The store is read by
:meth:`finews.publish.pages.Pages.hot_stories`; this module only ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from finews.models import Item

__all__ = ["FORMULA", "HOT_LIMIT", "SPEED_MINUTES", "HotStory", "rank", "this_minute"]

#: stories the board shows, at most
HOT_LIMIT = 30
#: the minutes in the speed factor ``1 + SPEED_MINUTES / (SPEED_MINUTES + T)``
SPEED_MINUTES = 60.0
#: the source whose arrival times the speed (the 3rd, or the last of fewer)
_NTH = 3
#: the score, in words (``/api/hot`` says it; the page says it in Chinese)
FORMULA = (
    "score = sources * (1 + importance) * speed; sources: distinct sources (as list rows name "
    "them) among the story's reports in the window and its first report; importance: the "
    "highest of those reports (0, 1, 2); speed = 1 + 60 / (60 + T), T the minutes from the "
    "first report to the first report of the min(sources, 3)-th source (1 for one source); "
    "ties: the story reported last first"
)


def this_minute() -> datetime:
    """Now, to the minute: the live board's time (a board is the same for a minute)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class HotStory:
    """One row of the board. ``lead``: the story's first report; ``reports``: each
    source's first report of the story (the lead's first), earliest first; ``minutes``:
    from the lead to the ``min(sources, 3)``-th source's first report (``None`` for one
    source); ``reported``: how many reports of it the window holds (with the lead)."""

    story: int
    lead: Item
    reports: tuple[Item, ...]
    sources: int
    minutes: float | None
    importance: int
    score: float
    latest: datetime
    reported: int
    #: whether the story has a page of its own (``/story/<id>/``: one too long for its
    #: first report's page to list every report); set by the caller, who knows
    story_page: bool = False


def _score(sources: int, importance: int, minutes: float | None) -> float:
    speed = 1.0 if minutes is None else 1.0 + SPEED_MINUTES / (SPEED_MINUTES + minutes)
    return sources * (1 + importance) * speed


def rank(
    items: Iterable[Item],
    story_of: Mapping[int, int],
    leads: Mapping[int, Item],
    *,
    source: Callable[[Item], str],
    limit: int = HOT_LIMIT,
) -> list[HotStory]:
    """The board made of ``items`` (the window's, stored, any order): ``story_of`` maps an
    item id to its story's id (items missing from it are stories of their own), ``leads``
    holds the first report of stories that started before the window, by story id;
    ``source`` names an item's source (the site's :func:`~.site.display_name`)."""
    groups: dict[int, dict[int, Item]] = {}
    for item in items:
        assert item.id is not None, "only stored items are ranked"
        story = story_of.get(item.id, item.id)
        groups.setdefault(story, {})[item.id] = item
    board = []
    for story, members in groups.items():
        lead = leads.get(story)
        if lead is not None and lead.id is not None:
            members.setdefault(lead.id, lead)
        ordered = sorted(members.values(), key=lambda it: (it.published_at, it.id or 0))
        firsts: dict[str, Item] = {}
        for item in ordered:
            firsts.setdefault(source(item), item)
        reports = tuple(firsts.values())
        sources = len(reports)
        minutes = None
        if sources > 1:
            nth = reports[min(sources, _NTH) - 1]
            seconds = (nth.published_at - ordered[0].published_at).total_seconds()
            minutes = max(seconds, 0.0) / 60
        importance = max(item.importance for item in ordered)
        board.append(
            HotStory(
                story=story,
                lead=ordered[0],
                reports=reports,
                sources=sources,
                minutes=minutes,
                importance=importance,
                score=_score(sources, importance, minutes),
                latest=ordered[-1].published_at,
                reported=len(ordered),
            )
        )
    board.sort(key=lambda row: (-row.score, -row.latest.timestamp(), -row.story))
    return board[:limit]
