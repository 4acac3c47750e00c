"""One settings registry: defaults < ``finews.toml`` < ``FINEWS_*`` environment < CLI flags.

Every global setting is declared once in :data:`SETTINGS` (name, type, default, help); the
same list drives loading, validation, ``finews config`` and the README's table. Sources are
declared under ``[sources.<id>]``: the common settings in :data:`SOURCE_SETTINGS`, plus the
settings of the source's adapter (every upstream URL among them). A wrong value raises
:class:`~finews.errors.ConfigError` naming the key, the bad value and what is allowed.

Environment overrides: ``FINEWS_DATABASE_URL``, ``FINEWS_HTTP_TIMEOUT`` (a dotted name in
upper case with ``_``), and ``FINEWS_SOURCE_<ID>_<SETTING>`` for a source
(``FINEWS_SOURCE_EM_FAST_ENABLED=false``).

The package, a module a job: ``options.py`` (the option table), ``values.py`` (one value
read from text and checked; :func:`parse_bool`), ``specs.py`` (the sources and their
settings), ``rules.py`` (the ``[rules.NAME]`` tables), ``configuration.py`` (the loaded
:class:`Config`) and ``loader.py`` (:func:`load_config`: file, environment, ``--set``).
Import from here: ``from finews.config import load_config``.
"""

from __future__ import annotations

from finews.config.configuration import Config
from finews.config.loader import load_config
from finews.config.options import SETTINGS, SOURCE_SETTINGS, Option
from finews.config.specs import DEFAULT_SOURCES
from finews.config.values import FALSE_WORDS, TRUE_WORDS, allowed_values, parse_bool

__all__ = [
    "DEFAULT_SOURCES",
    "FALSE_WORDS",
    "SETTINGS",
    "SOURCE_SETTINGS",
    "TRUE_WORDS",
    "Config",
    "Option",
    "allowed_values",
    "load_config",
    "parse_bool",
]
