"""A patient's change feed: the counter that orders their session writes, and the cursors
that say how far a follower has read it (opaque, signed, bound to the patient)."""
import base64
import hashlib
import hmac
import struct
import uuid
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, select, update

from app.common.db import execute_core, insert_ignoring_conflict, transaction_connection
from app.errors import ApiError
from app.extensions import db
from app.sessions.models import SessionFeed


class FeedCounter:
    """The patient's change counter, locked for the rest of the transaction.

    Every write of a patient's sessions takes this lock first (before it reads the session),
    so writes of one patient run one at a time, in one order, and each reads the version the
    previous one committed: no lost update, no merge, no deadlock between batches (they never
    wait on each other's session rows). A position is handed out only while the lock is held
    and the lock is released only by the commit, so a later-committing write never gets a
    smaller position than one already visible. PostgreSQL (READ COMMITTED): the UPDATE waits
    for the holder's commit, then re-reads the row (its committed value); the holder's writes
    are visible before its row lock is released. SQLite: one writer at a time anyway.
    """

    def __init__(self, patient_id, position: int, reserved: int = 0):
        self.patient_id, self.start, self.position = patient_id, position, position
        self.stored = position + reserved  # what the row holds now, in this transaction

    @classmethod
    def lock(cls, patient_id, reserve: int = 0, connection=None) -> "FeedCounter":
        """reserve: positions to take at once, in the locking statement (a single write takes
        one, so it needs no second UPDATE). One not used leaves a gap, which a follower never
        notices: positions only need to grow in commit order. `connection` (the transaction's)
        is kept for the write's other Core statements (given: the caller has it already)."""
        connection = connection if connection is not None else transaction_connection()
        (stmt, slices), params = _lock_statement(), {"feed_patient": patient_id, "reserve": reserve}
        row = connection.execute(stmt, params).first()
        if row is None:  # the patient's first write: make the row (racing makers wait)
            insert_ignoring_conflict(SessionFeed, {"patient_id": patient_id, "position": 0}, ["patient_id"],
                                     connection)
            row = connection.execute(stmt, params).first()
        counter = cls(patient_id, row[0] - reserve, reserve)
        counter.connection = connection
        counter.locked_reads = {name: tuple(row[start:end]) for name, start, end in slices}
        return counter

    def next(self) -> int:
        self.position += 1
        return self.position

    def give_back(self) -> None:
        """Return the position last taken (its write did not happen)."""
        self.position -= 1

    def save(self) -> None:
        if self.position > self.stored:
            execute_core(_save_statement(), {"feed_patient": self.patient_id, "feed_position": self.position})
            self.stored = self.position


def hold_writes(patient_id) -> None:
    """For another domain's write that depends on the patient's sessions read in its own
    transaction (a snooze queues a reminder only while no session satisfies it): the patient's
    feed lock, taken before that read and held to its commit. A session write under way then
    commits first (what it wrote is read after it), or waits for this one's commit (and then
    sees, and cancels, what it queued)."""
    FeedCounter.lock(patient_id)


_RIDERS: dict = {}  # name -> build(patient_id parameter): the scalar subqueries it reads


def read_with_lock(name: str, build) -> None:
    """Let another domain read the patient's data it needs in every session write's transaction
    by the feed lock's statement (its RETURNING), instead of a statement of its own: build(the
    patient id parameter) gives scalar subqueries of the patient's rows. Their values, read under
    the lock, reach session_saving's receivers as locked_reads[name] (a tuple, None for no row)."""
    _RIDERS[name] = build
    _lock_statement.cache_clear()


@cache
def _lock_statement() -> tuple:
    """(statement, slices). An UPDATE takes the row lock on PostgreSQL and the write lock on
    SQLite. Built once (it runs on every session write), on the table: a Core statement skips
    the ORM's bulk-update steps (about three times the cost of the statement itself), and no ORM
    object of the row is ever loaded to synchronise. It returns the riders' reads too
    (read_with_lock); slices: (name, start, end), where each rider's values are in its row."""
    feeds = SessionFeed.__table__
    patient = bindparam("feed_patient", type_=feeds.c.patient_id.type)
    riders, slices = [], []
    for name, build in _RIDERS.items():
        columns = build(patient)
        slices.append((name, 1 + len(riders), 1 + len(riders) + len(columns)))
        riders.extend(columns)
    stmt = (update(feeds).where(feeds.c.patient_id == patient)
            .values(position=feeds.c.position + bindparam("reserve")).returning(feeds.c.position, *riders))
    return stmt, tuple(slices)


@cache
def _save_statement():
    feeds = SessionFeed.__table__
    return update(feeds).where(feeds.c.patient_id == bindparam("feed_patient")).values(
        position=bindparam("feed_position"))


_CURSOR = struct.Struct(">B16sQ")  # format version, patient id, feed position
_CURSOR_VERSION = 1
_MAC_BYTES = 16


def _cursor_key() -> bytes:
    return hashlib.sha256(b"standstrong sync cursor\0" + current_app.config["SECRET_KEY"].encode()).digest()


def encode_cursor(patient_id: uuid.UUID, position: int) -> str:
    """Opaque to the app: the patient and the feed position, with a MAC over both."""
    raw = _CURSOR.pack(_CURSOR_VERSION, patient_id.bytes, position)
    mac = hmac.new(_cursor_key(), raw, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(raw + mac).decode().rstrip("=")


def _cursor_problem(detail: str, slug: str) -> ApiError:
    return ApiError(422, detail, title="Validation failed", type_slug=slug, errors={"since": [detail]})


def _decode_cursor(cursor: str, patient_id: uuid.UUID) -> int:
    try:
        blob = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
    except ValueError:  # not ASCII, not base64
        blob = b""
    raw, mac = blob[:_CURSOR.size], blob[_CURSOR.size:]
    good = hmac.new(_cursor_key(), raw, hashlib.sha256).digest()[:_MAC_BYTES]
    if len(blob) != _CURSOR.size + _MAC_BYTES or not hmac.compare_digest(mac, good):
        raise _cursor_problem("Not a cursor from this API (or from before a key change): sync again "
                              "from the start, without since.", "cursor-invalid")
    version, owner, position = _CURSOR.unpack(raw)
    if version != _CURSOR_VERSION:
        raise _cursor_problem("A cursor of an older format: sync again from the start.", "cursor-invalid")
    if owner != patient_id.bytes:
        raise _cursor_problem("This cursor belongs to another patient's feed.", "cursor-other-patient")
    return position


def read_cursor(cursor: str, patient_id: uuid.UUID) -> int:
    """The position a cursor names, if it is a genuine cursor of this patient's feed."""
    position = _decode_cursor(cursor, patient_id)
    reached = db.session.scalar(select(SessionFeed.position).where(SessionFeed.patient_id == patient_id))
    if position > (reached or 0):
        raise _cursor_problem("This cursor is ahead of the feed (the data was restored): sync again from "
                              "the start, without since.", "cursor-invalid")
    return position
