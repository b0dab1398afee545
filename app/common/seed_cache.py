"""Seed data (the exercise library, the education catalogue) kept per process across requests.

Every worker keeps its own copy, so a `flask seed` run in another process must reach them all:
each read first runs one cheap one-row statement over the seed table (its fingerprint, e.g. a
count and the rows' content hashes) and rebuilds the copy when the answer differs from the one
the copy was built at. A seed run that changes, adds or removes a row changes the fingerprint,
so every worker sees it on its next read, without a message between processes.

What is cached must not be bound to a session (a commit would expire it): plain data only.
"""
from functools import cache
from typing import Callable

from app.extensions import db


class SeedCache:
    """build(key) -> value, per (database, key), rebuilt when fingerprint() changes.

    fingerprint: returns the one-row SELECT (built once: building it costs more than running it).
    """

    def __init__(self, fingerprint: Callable, build: Callable):
        self._statement = cache(fingerprint)
        self._build = build
        self._entries: dict = {}

    def statement(self):
        """The fingerprint's one-row SELECT: a caller may read it inside a statement of its own
        (as a subquery) and give the row's values to get()."""
        return self._statement()

    def fingerprint(self) -> tuple:
        # On the session's connection (its transaction), past the ORM's execution path: the
        # statement returns plain values, and that path was most of what the check cost.
        return tuple(db.session.connection().execute(self._statement()).one())

    def get(self, key=None, fingerprint: tuple | None = None):
        """The value for key, current as of the fingerprint read now (one statement), or as of
        the one given (the values of statement()'s row, read by the caller in the same transaction)."""
        if fingerprint is None:
            fingerprint = self.fingerprint()
        entry_key = (db.engine.url, key)
        cached = self._entries.get(entry_key)
        if cached is None or cached[0] != fingerprint:
            cached = self._entries[entry_key] = (fingerprint, self._build(key))
        return cached[1]
