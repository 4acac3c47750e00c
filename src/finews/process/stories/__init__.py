"""Same story, shown once: pure story work, one thing per module, in the order the data
goes through them.

- :mod:`~finews.process.stories.parameters`: the rule's parameters and
  ``ALGORITHM_VERSION``, in one place;
- :mod:`~finews.process.stories.quantities`: the numbers an item gives, and when two are
  the same number;
- :mod:`~finews.process.stories.shingles`: a text as its character bigrams;
- :mod:`~finews.process.stories.keys`: the candidate keys that find an item, defined by
  finews (``stable_key``; never Python's ``hash()``), as they are stored in ``story_keys``;
- :mod:`~finews.process.stories.fingerprint`: the ``Fingerprint`` of an item and how it
  is made from the item's title, digest and content;
- :mod:`~finews.process.stories.prints`: a fingerprint packed for holding, in memory and
  as the bytes of ``story_prints``;
- :mod:`~finews.process.stories.score`: the rule that says two fingerprints tell the same
  story;
- :mod:`~finews.process.stories.cluster`: which items are compared, and the stories they
  make (connected components led by the earliest report);
- :mod:`~finews.process.stories.window`: the story window held between rounds.

Nothing here touches the database: :mod:`finews.derive.stories` applies them to stored
items.
"""

from __future__ import annotations

__all__: list[str] = []
