"""What a lower domain (DXA, medications) says is due, for the reminders materialiser to turn
into outbox rows: lower domains never import reminders."""
import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class DueNotice:
    patient_id: uuid.UUID
    kind: str            # a message kind with texts in seed/reminders/*.yaml
    occurrence_key: str  # stable per occurrence, so materialising twice never duplicates
    due_at: datetime     # UTC: when to deliver
    payload: dict = field(default_factory=dict)  # what the text needs; never free-text notes
