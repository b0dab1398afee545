"""Patients announce a caregiver's revocation; higher domains (calendar, reminders) subscribe.
Patients imports none of them."""
from blinker import Namespace

_signals = Namespace()

# Sent inside the revocation's transaction, right before its commit: what a receiver adds there
# (a feed token revoked, queued reminders cancelled) commits with the revocation, in its one
# transaction. A receiver only adds statements; it never commits, and an error fails the revocation.
# sender: the app; kwargs: patient_id, caregiver_id (the User's id), now.
caregiver_revoking = _signals.signal("caregiver-revoking")
