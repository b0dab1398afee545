"""Sessions announce their writes; higher domains (rules) subscribe. Sessions imports none of them."""
from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: session (ExerciseSession), change ("created" | "updated" | "deleted")
session_written = _signals.signal("session-written")
