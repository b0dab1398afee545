"""Medications announce recorded doses; higher domains (rules, reminders) subscribe."""
from blinker import Namespace

_signals = Namespace()

# sender: the app; kwargs: dose (BoneDose), treatment (BoneTreatment), change ("created" | "deleted")
dose_recorded = _signals.signal("dose-recorded")
