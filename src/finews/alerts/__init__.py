"""Watchlist rules and alerts: matching each new item, muting, and pushing alerts.

- :mod:`finews.process.rules` reads the ``[rules.NAME]`` tables and matches an item (pure);
- :mod:`finews.alerts.reader` is the ``Rules`` reader of the change log: it runs in the
  deriving transaction after search and stories, marks muted items, and writes one outbox
  row per alert and channel (once per story per rule);
- :mod:`finews.alerts.sender` delivers the outbox through Apprise, with retries and
  backoff per channel;
- :mod:`finews.alerts.message` writes an alert's text.

**Delivery guarantee: at least once per story, rule and channel, within the retry
budget.** An alert exists exactly when its item's match is committed (the outbox row is
written in the deriving transaction, and the story is recorded as alerted in the same
one), so a ``kill -9`` before the commit loses nothing (the change is derived again) and
after it repeats nothing. A sender claims rows before sending (a claim that expires:
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's write lock), sends, then marks each row
sent. A sender killed between a channel's acceptance and that mark leaves the row claimed;
once the claim expires (60 s plus ten ``alerts.timeout``: a pass takes at most ten rows
of a channel) another sender, or the same one restarted, sends it again:
that one alert may then arrive twice. Nothing else is sent twice, and several senders
never send one row at once. A channel that keeps refusing is retried with exponential
backoff (``alerts.backoff`` doubling up to ``alerts.backoff_cap``) until
``alerts.attempts``, then the row is ``failed`` (``finews alerts`` and ``/status`` show it
with its last error); channels are sent to in parallel, so a dead or slow one delays no
other.
"""
