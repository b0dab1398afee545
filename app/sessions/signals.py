"""Sessions announce their writes; higher domains (rules) subscribe. Sessions imports none of them."""
from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: session (ExerciseSession), change ("created" | "updated" | "deleted")
session_written = _signals.signal("session-written")

# Sent inside the write's transaction, right before its commit, with the same kwargs (not for
# deletes): what a receiver adds there commits with the write, in its one transaction. A
# receiver only adds statements; it never commits, and a database error it meets fails the write.
# connection: the transaction's (its Core statements run there; the write adds no ORM objects to flush).
session_saving = _signals.signal("session-saving")
