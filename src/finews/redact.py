"""Hiding secrets in whatever finews shows: one function, :func:`redact`.

Source URLs and database URLs may carry credentials (``https://user:password@host/…``,
``?token=…``, ``postgresql://finews:password@db/finews``), and error messages quote URLs.
Everything finews shows a person or a machine (pages, the JSON API, ``/metrics``, logs,
``finews config`` and ``finews sources``, the errors kept in a source's state) passes
through :func:`redact` first, which replaces

* the password of a URL's user information (``user:password@`` → ``user:***@``; the user
  name stays, it tells which account is meant), and
* the value of every ``name=value`` pair whose name looks secret (in a query string, a
  fragment, a libpq ``key=value`` string or a log line): key, token, secret, password,
  passwd, pwd, pass, sign, signature, sig, access_key, app_key, api_key, auth, session,
  sid, ticket, credential… in any case and with ``_``, ``-`` or ``.`` inside the name
  (``X-Api-Key``, ``ACCESS_TOKEN``, ``appSecret``, ``jsessionid``).

Redacting a second time changes nothing, so an error stored redacted is shown unchanged,
and an old one stored before this rule is redacted when shown. The mask keeps the shape
of the text: a reader sees that a secret was there and which parameter held it.

This module imports nothing of finews, so every layer may use it.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "is_secret_name", "redact"]

#: what a secret is replaced with
MASK = "***"

# names that are secret on their own (after lower-casing and dropping _ - .)
_EXACT = frozenset({"key", "sign", "sig", "sid", "pwd", "pass", "auth", "session", "ticket", "jwt"})
# parts that make any name secret (accesstoken, clientsecret, xapikey, dbpassword…)
_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "accesskey",
    "appkey",
    "authkey",
    "privatekey",
    "signature",
    "session",
    "credential",
    "authorization",
)
# endings that make a name secret (subscriptionkey, appsign, userpwd, phpsessid, authticket)
_ENDINGS = ("key", "sign", "pwd", "sessid", "sid", "ticket", "auth")

# scheme://user:password@ — the password runs to the last @ before the path
_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://[^\s:/@?#]*):([^\s/?#]*)@")
# name=value after a start, ?, &, ;, #, a space or an opening bracket or quote
_PAIR = re.compile(r"""(^|[?&;#\s,(\[{"'])([A-Za-z][A-Za-z0-9_.\-]*)=([^&;#\s'"<>)\]},]*)""")


def is_secret_name(name: str) -> bool:
    """Whether a parameter called ``name`` probably holds a secret."""
    folded = name.lower().replace("_", "").replace("-", "").replace(".", "")
    return folded in _EXACT or any(part in folded for part in _PARTS) or folded.endswith(_ENDINGS)


def _pair(match: re.Match[str]) -> str:
    lead, name, value = match.groups()
    if not value or value == MASK or not is_secret_name(name):
        return match.group(0)
    return f"{lead}{name}={MASK}"


def redact(text: str) -> str:
    """``text`` (a URL, an error message, a log line) with every credential it quotes
    replaced by :data:`MASK`; text without one is returned unchanged."""
    if "=" not in text and "@" not in text:
        return text  # the common case, at no cost
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@" if m.group(2) else m.group(0), text)
    return _PAIR.sub(_pair, text)
