"""Run finews without the internet: a replay upstream serving invented demo data.

:mod:`finews.demo.replay` holds :class:`~finews.demo.replay.ReplayServer` (a loopback HTTP
server answering with canned replies, also used by the fetch tests), the demo routes and the
settings overrides that point the demo sources at it.
"""
