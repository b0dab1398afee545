"""Shared pieces of the idempotent seed loaders."""
import hashlib
import json
import uuid

# Seeded rows get UUIDs derived from their slug, so IDs are the same in every deployment.
SEED_NAMESPACE = uuid.UUID("6f1c2a52-5d1e-4f0e-9a43-7a1d2b9c0e11")


def seed_id(kind: str, slug: str) -> uuid.UUID:
    return uuid.uuid5(SEED_NAMESPACE, f"{kind}:{slug}")


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
