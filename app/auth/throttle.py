"""Failed logins counted per e-mail address, atomically, for known and unknown addresses alike.

One statement counts a failure and, at the limit, locks: INSERT ... ON CONFLICT DO UPDATE SET
failures = failures + 1 ... RETURNING, so parallel wrong guesses cannot overwrite each other's
count (a read-then-write lost most of them on PostgreSQL)."""
import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from app.auth.models import LoginThrottle
from app.common.types import UTCDateTime
from app.extensions import db


def throttle_key(email: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, email.encode(), hashlib.sha256).hexdigest()


def locked_seconds(email: str, now: datetime) -> int:
    """Seconds the address stays locked (0: not locked)."""
    until = db.session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == throttle_key(email)))
    return _seconds_until(until, now)


def record_failure(email: str, now: datetime) -> None:
    """Count one failure; the one that reaches LOGIN_MAX_FAILURES locks the address."""
    cfg = current_app.config
    limit = cfg["LOGIN_MAX_FAILURES"]
    lock_until = literal(now + timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"]), UTCDateTime())
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    reaches = LoginThrottle.failures + 1 >= limit
    first_locks = limit <= 1
    stmt = (
        insert(LoginThrottle)
        .values(key=throttle_key(email), failures=0 if first_locks else 1,
                locked_until=lock_until if first_locks else None, updated_at=now)
        .on_conflict_do_update(index_elements=["key"], set_={
            "failures": case((reaches, 0), else_=LoginThrottle.failures + 1),
            "locked_until": case((reaches, lock_until), else_=LoginThrottle.locked_until),
            "updated_at": literal(now, UTCDateTime()),
        })
    )
    db.session.execute(stmt)


def clear(email: str) -> None:
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == throttle_key(email)))


def _seconds_until(until: datetime | None, now: datetime) -> int:
    if until is None or until <= now:
        return 0
    return int((until - now).total_seconds()) + 1
