"""Who acts when no person does: a job (reminders, the rules sweep) acts as a system actor."""
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SystemActor:
    """Duck-types the parts of an account that services and the policy read (id, role,
    patient_id). The audit trail records it by name: actor_role "system", actor_name
    "system:reminders"."""

    name: str
    id: ClassVar[None] = None
    role: ClassVar[str] = "system"
    patient_id: ClassVar[None] = None

    def __post_init__(self):
        if not self.name.startswith("system:") or len(self.name) > 64:
            raise ValueError("a system actor is named system:<job>, at most 64 characters")
