"""Counting the SQL statements a block runs: the tests that hold a page, a list or a sweep to a
fixed number of statements whatever its size."""
from contextlib import contextmanager

from sqlalchemy import event


class Counted:
    n = 0


@contextmanager
def statements_on(engine):
    """`with statements_on(engine) as counted: ...` then `counted.n`."""
    counted = Counted()

    def counter(*_args, **_kwargs):
        counted.n += 1

    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", counter)
