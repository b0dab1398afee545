"""Medications announce recorded doses; higher domains (rules, reminders) subscribe."""
from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: dose (BoneDose), treatment (BoneTreatment), change ("created" | "deleted")
dose_recorded = _signals.signal("dose-recorded")
# sender: the app; kwargs: treatment (BoneTreatment), change ("created" | "updated"): a stopped or
# changed treatment can void reminders already queued (occurrence keys carry the due date).
treatment_changed = _signals.signal("treatment-changed")
