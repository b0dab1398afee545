"""Patients' signals to the domains above them (calendar, reminders, DXA, medications), which
subscribe; patients imports none of them."""
from blinker import Namespace

_signals = Namespace()

# Sent inside the revocation's transaction, right before its commit: what a receiver adds there
# (a feed token revoked, queued reminders cancelled) commits with the revocation, in its one
# transaction. A receiver only adds statements; it never commits, and an error fails the revocation.
# sender: the app; kwargs: patient_id, caregiver_id (the User's id), now.
caregiver_revoking = _signals.signal("caregiver-revoking")

# Sent before a profile change is stored: a domain's records (a DXA scan, a bone treatment) may
# be dated before a new date of birth or after a new injury date. sender: the app; kwargs:
# patient (as stored), date_of_birth and injury_date (as they would be). Each receiver returns
# the field errors its own records give those dates ({} when none); any error refuses the change
# with a 422.
profile_dates_changing = _signals.signal("patient-profile-dates-changing")
