"""Sessions announce their writes; higher domains (rules) subscribe. Sessions imports none of them."""
from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: session (ExerciseSession), change ("created" | "updated" | "deleted")
session_written = _signals.signal("session-written")

# Sent inside the write's transaction, right before its commit, with the same kwargs (not for
# deletes): what a receiver adds there commits with the write, in its one transaction. A
# receiver only adds statements; it never commits, and a database error it meets fails the write.
# connection: the transaction's (its Core statements run there; the write adds no ORM objects to flush).
# ridden: the names of the create riders (write_with_create) that already ran for this session.
session_saving = _signals.signal("session-saving")

# (name, build, params) of each write_with_create; a tuple, replaced whole, so that the statement
# built from them can be cached by it.
create_riders: tuple = ()


def write_with_create(name: str, build, params) -> None:
    """Let a higher domain add its write for a created session to the statement that inserts
    the session, where it can (PostgreSQL: a data-modifying WITH; a single PUT of a plan item),
    instead of sending a statement of its own from its session_saving receiver: one round trip
    fewer. build(only_if_inserted) gives an UPDATE or DELETE, to which that condition is added
    (so it changes nothing for a resend or a taken id); params(values) gives its parameters
    (named apart from the session's columns) from the session's values. session_saving then
    names it in `ridden`, so the receiver skips its own statement; everywhere else (SQLite, a
    batch, an edit, a session of no plan item) the receiver writes as before."""
    global create_riders
    create_riders = (*(rider for rider in create_riders if rider[0] != name), (name, build, params))
