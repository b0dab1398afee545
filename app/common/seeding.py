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


class SeedUpserter:
    """Create or update seed rows keyed by slug; a row whose content hash is unchanged is left alone."""

    def __init__(self, model, kind: str, existing: dict):
        self.model, self.kind, self.existing = model, kind, existing
        self.counts = {"created": 0, "updated": 0, "unchanged": 0}

    def put(self, slug: str, values: dict) -> None:
        content_hash = digest(values)
        row = self.existing.get(slug)
        if row is not None and row.content_hash == content_hash:
            self.counts["unchanged"] += 1
            return
        if row is None:
            from app.extensions import db

            row = self.model(id=seed_id(self.kind, slug), slug=slug)
            db.session.add(row)
            self.counts["created"] += 1
        else:
            self.counts["updated"] += 1
        for key, value in values.items():
            setattr(row, key, value)
        row.content_hash = content_hash

    def summary(self, label: str) -> str:
        return f"{label}: " + ", ".join(f"{n} {what}" for what, n in self.counts.items())


def register_seed_loader(app, loader) -> None:
    """A domain's idempotent loader (returns a one-line summary); `flask seed` runs them in
    the order the domains register."""
    app.extensions.setdefault("standstrong.seed_loaders", []).append(loader)


def seed_loaders(app) -> list:
    return list(app.extensions.get("standstrong.seed_loaders", []))
