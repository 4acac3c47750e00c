"""The story rule's parameters and its version: every number that tunes which items tell
the same story (:mod:`~finews.process.stories.score`), which are compared
(:mod:`~finews.process.stories.keys`, :mod:`~finews.process.stories.cluster`) and what a
fingerprint reads (:mod:`~finews.process.stories.fingerprint`).

They were chosen on the labelled set in ``tests/data/cluster`` (precision 1.0, recall 0.91
at :data:`THRESHOLD` 0.58; 0.56 gives recall 0.93 but leaves a near miss 0.01 below; with
the amount rule and its pairs: precision 0.995, recall 0.91); the numbers are in
BENCHMARKS.md and held by a test. Changing one that changes fingerprints or the rule
means raising :data:`ALGORITHM_VERSION`.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "ALGORITHM_VERSION",
    "AMOUNT",
    "BINS",
    "BUCKET_CAP",
    "CANDIDATE_CAP",
    "FLOOR",
    "KEY_QUANTITIES",
    "LEAD_CHARS",
    "MAX_EVIDENCE",
    "NUMBERS",
    "NUMBER_WEIGHT",
    "ROWS",
    "SUBJECT",
    "TEXT_PREFIX",
    "THRESHOLD",
    "TITLE_FLOOR",
    "WINDOW",
]

#: Bump when fingerprints or the rule change: stored clusters must then be rebuilt.
ALGORITHM_VERSION = 2
#: Longest time between two reports of one story.
WINDOW = timedelta(hours=20)
#: Characters of digest (or full text) that join the title in a fingerprint.
LEAD_CHARS = 160
#: Characters of digest and content a fingerprint reads (what the store fetches of them).
TEXT_PREFIX = 4000
#: Rule 5: text overlap plus number evidence needed, and the text overlap needed anyway.
THRESHOLD = 0.58
FLOOR = 0.3
TITLE_FLOOR = 0.1
NUMBER_WEIGHT = 0.1
MAX_EVIDENCE = 0.6
#: Rule 4: share of the smaller quantity set that must be found in the other.
NUMBERS = 0.5
#: Rule 4: a title's round amount from here on must be found in the other item.
AMOUNT = 1e4
#: Rule 3: share of a subject's bigrams that must be found in the other item.
SUBJECT = 0.6
#: Candidate keys: MinHash bins and rows per band; quantities paired for keys.
BINS = 48
ROWS = 2
KEY_QUANTITIES = 4
#: An item is compared with at most this many of the latest earlier items sharing a key
#: (dozens of near-identical templates within a window would otherwise cost quadratic time)
BUCKET_CAP = 16
CANDIDATE_CAP = 32
