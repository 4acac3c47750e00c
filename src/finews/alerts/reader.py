"""``Rules``: the reader of the change log that matches each new item against the rules.

It runs in the deriving transaction, after search and stories (it reads the story each
item was just put in), with the same isolation as they have: an item that makes it fail
is left out and recorded in ``item_faults`` (stage ``rules``). For each item, at its
current revision and once (``rule_marks``, whichever deriver reaches it first):

- it sets the item's mutes (``item_mutes``) to the mute rules that match it, so an edit
  that no longer matches shows the item again;
- for each notify rule that matches, unless the story has had that rule's alert already
  (``alert_stories``), it writes the alert: one outbox row per channel. With
  ``follow_up = true`` a story that becomes important (a later report marked important,
  after a first alert that was not) gets one more.

Items published more than ``alerts.max_age`` hours before they are derived raise no
alert (an import, a restored backlog), though they are matched and muted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from finews.alerts.message import alert_text
from finews.models import Item
from finews.process.rules import ItemText, Rule
from finews.store import alerts as sql

__all__ = ["Rules", "rules_reader"]

FIRST, IMPORTANT = "first", "important"


class Rules:
    """The rules reader (``stage = "rules"``); see the module docstring."""

    stage = "rules"

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        public_url: str = "",
        source_names: Mapping[str, str] | None = None,
        max_age: float = 24.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.public_url = public_url
        self.source_names = dict(source_names or {})
        self.max_age = timedelta(hours=max_age)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._mutes = any(rule.mute for rule in self.rules)
        self._notifying = tuple(rule for rule in self.rules if rule.notify)

    @classmethod
    def from_config(cls, config: Any) -> Rules:
        """The reader of a :class:`~finews.config.Config`'s rules and settings."""
        return cls(
            config.rules,
            public_url=config.get("site.public_url"),
            source_names=dict(config.source_names()),
            max_age=config.get("alerts.max_age"),
        )

    def forget(self) -> None:
        """Nothing is cached between rounds."""

    def matching(self, item: Item) -> list[Rule]:
        """The rules ``item`` matches."""
        text = ItemText.of(item)
        return [rule for rule in self.rules if rule.matches(text)]

    def update(self, tx: sql.Tx, items: Sequence[tuple[int, Item]]) -> None:
        """Match the items not yet matched at their current revision (see the module
        docstring)."""
        if not self.rules or not items:
            return
        todo = sql.unmatched(tx, items)
        if not todo:
            return
        now = self.clock()
        recent = now - self.max_age
        alerting: list[tuple[int, Item, list[Rule]]] = []
        for item_id, item in todo:
            matched = self.matching(item)
            if self._mutes:
                sql.set_mutes(tx, item_id, [rule.name for rule in matched if rule.mute])
            notify = [rule for rule in matched if rule.notify]
            if notify and item.published_at >= recent:
                alerting.append((item_id, item, notify))
        if alerting:
            stories = sql.stories_of(tx, [item_id for item_id, _, _ in alerting])
            for item_id, item, notify in alerting:
                story = stories.get(item_id, item_id)
                for rule in notify:
                    self._alert(tx, rule, item_id, item, story, now)
        sql.mark_matched(tx, todo)

    def _alert(
        self, tx: sql.Tx, rule: Rule, item_id: int, item: Item, story: int, now: datetime
    ) -> None:
        done = sql.story_alerted(tx, rule.name, story)
        if FIRST not in done:
            kind = FIRST
        elif rule.follow_up and item.importance > 0 and IMPORTANT not in done:
            kind = IMPORTANT
        else:
            return
        title, body = alert_text(
            item,
            rule=rule.name,
            kind=kind,
            sources=self._story_sources(tx, story, item),
            public_url=self.public_url,
        )
        channels = tuple(key for key, _ in rule.channels)
        sql.enqueue(tx, sql.Alert(rule.name, item_id, story, kind, title, body, channels), now=now)
        if kind == FIRST and item.importance > 0:
            # the first alert is about an important report already: no follow-up to come
            sql.enqueue(tx, sql.Alert(rule.name, item_id, story, IMPORTANT, "", "", ()), now=now)

    def _story_sources(self, tx: sql.Tx, story: int, item: Item) -> list[str]:
        rows = tx.execute(
            "SELECT DISTINCT i.source FROM item_clusters c JOIN items i ON i.id = c.item_id "
            "WHERE c.cluster_id = ?",
            (story,),
        ).fetchall()
        ids = sorted({str(source) for (source,) in rows} | {item.source})
        ids.remove(item.source)
        return [self.source_names.get(sid, sid) for sid in [item.source, *ids]]


def rules_reader(config: Any) -> Callable[[Any], Rules]:
    """A reader factory for :func:`finews.derive.open_store` (``readers=``): the rules of
    a :class:`~finews.config.Config`."""

    def make(store: Any) -> Rules:
        return Rules.from_config(config)

    return make
