"""Patients ask the domains above them before a change of dates is stored: their records (a DXA
scan, a bone treatment) may be dated before a new date of birth or after a new injury date."""
from blinker import Namespace

_signals = Namespace()

# Sent before a profile change is stored. sender: the app; kwargs: patient (as stored),
# date_of_birth and injury_date (as they would be). Each receiver returns the field errors its
# own records give those dates ({} when none); any error refuses the change with a 422.
profile_dates_changing = _signals.signal("patient-profile-dates-changing")
