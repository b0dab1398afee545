"""Plans announce their changes; higher domains (reminders) subscribe. Plans imports none of them."""
from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: plan (Plan), change ("assigned" | "version" | "paused" | "resumed" | "ended")
plan_changed = _signals.signal("plan-changed")
