"""DXA announces its writes; higher domains (rules, reminders) subscribe. DXA imports none of them."""
from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: result (DxaResult), change ("created" | "deleted")
dxa_result_written = _signals.signal("dxa-result-written")
# Sent after the commit. sender: the app; kwargs: followup (DxaFollowUp), change ("created" |
# "updated" | "deleted": planned from a scan whose results were all deleted since); a booked
# date or a closed follow-up can void reminders already queued (occurrence keys carry the date
# they were for).
followup_changed = _signals.signal("dxa-followup-changed")
