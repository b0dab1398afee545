"""Column types shared by every domain."""
import uuid
from datetime import datetime, timezone

import marshmallow as ma
from sqlalchemy import DateTime, TypeDecorator, Uuid
from sqlalchemy.orm import mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utc_timestamp(value: datetime) -> str:
    """The one form of a moment in every answer: UTC, ending in Z (2026-01-05T02:00:00Z)."""
    if value.tzinfo is None:  # stored values are UTC (UTCDateTime)
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# Every marshmallow DateTime (and AwareDateTime) dumps in that form, whatever offset the value
# came with: a session logged at +08:00 answers in UTC in its 201, a retry, GET, lists and the feed.
ma.fields.DateTime.SERIALIZATION_FUNCS["iso"] = utc_timestamp
ma.fields.DateTime.SERIALIZATION_FUNCS["iso8601"] = utc_timestamp


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def uuid_pk():
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def created_at():
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


def render_item(type_, obj, autogen_context):
    """Alembic: write UTCDateTime as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
