"""The dispatcher: claims due rows atomically, delivers them, records the outcome.

Any number of dispatchers may run at once (threads, processes, machines): a row is claimed by
exactly one of them (PostgreSQL: FOR UPDATE SKIP LOCKED, so claimers never wait on each other;
SQLite: a conditional UPDATE under its single write lock). A claimed row carries the claimer's
token; rows left "sending" by a dispatcher that died are put back after
DISPATCH_CLAIM_TIMEOUT_SECONDS. Rows for one recipient in a batch go out as one message.
Delivery is at least once: a dispatcher killed between handing a message to SMTP or FCM and
recording it would have that row sent again after the claim timeout. A row whose recipient may
no longer have it (an account deactivated, no longer related to the row's patient: a revoked
caregiver, or a caregiver the patient no longer shares that kind with) is cancelled when it comes
due, not sent.
"""
import logging
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, case, select, update

from app.access.policy import related_pairs
from app.auth.models import User
from app.extensions import db
from app.patients.models import Patient
from app.reminders.channels import CHANNELS, DeliveryError, Recipient
from app.reminders.models import DeviceToken, Notification, NotificationPreference
from app.reminders.texts import render_bundle

log = logging.getLogger("standstrong.reminders")
N = Notification
RECIPIENT_DEACTIVATED = "not sent: the recipient's account is deactivated"
RECIPIENT_UNRELATED = "not sent: the recipient no longer acts for the patient"
NOT_SHARED = "not sent: the patient does not share this reminder with caregivers"


def reclaim(now: datetime) -> int:
    """Rows a dead dispatcher left "sending": back to pending, or failed when out of tries."""
    cfg = current_app.config
    stale = now - timedelta(seconds=cfg["DISPATCH_CLAIM_TIMEOUT_SECONDS"])
    out_of_tries = N.attempts >= cfg["DISPATCH_MAX_ATTEMPTS"]
    stmt = (update(N).where(N.status == "sending", N.claimed_at < stale)
            .values(status=case((out_of_tries, "failed"), else_="pending"), claim_token=None,
                    last_error="claim expired: the dispatcher stopped before recording the outcome")
            .execution_options(synchronize_session=False))
    count = db.session.execute(stmt).rowcount
    db.session.commit()
    return count


def claim(now: datetime, limit: int, token: uuid.UUID) -> list:
    """Claim up to limit due rows for this dispatcher, and commit the claim."""
    due = select(N.id).where(N.status == "pending", N.due_at <= now).order_by(N.due_at).limit(limit)
    values = {"status": "sending", "claimed_at": now, "claim_token": token, "attempts": N.attempts + 1}
    returning = (N.id, N.recipient_user_id, N.patient_id, N.kind, N.payload, N.attempts, N.channel)
    if db.session.get_bind().dialect.name == "postgresql":
        locked = due.with_for_update(skip_locked=True).cte("claimable")
        stmt = update(N).where(N.id == locked.c.id)
    else:
        stmt = update(N).where(N.id.in_(due.scalar_subquery()), N.status == "pending")
    rows = db.session.execute(stmt.values(**values).returning(*returning)
                              .execution_options(synchronize_session=False)).all()
    db.session.commit()
    return rows


def shared_with_caregivers(pref: NotificationPreference | None, kind: str) -> bool:
    """Whether the patient's preferences send reminders of this kind to their caregivers: their
    consent, and the kind not opted out (what the materialiser queues for caregivers)."""
    return bool(pref and pref.caregivers_receive) and kind not in (pref.opted_out or [])


def _recipients(rows) -> tuple[dict, dict]:
    """The recipients of rows by user id, and the ids of the rows not to be sent, by why: about a
    patient to whom their recipient has no relation now (the access policy's), or to a caregiver
    of a patient who does not share that kind with caregivers now."""
    user_ids = {r.recipient_user_id for r in rows}
    patient_ids = {r.patient_id for r in rows if r.patient_id}
    users = db.session.execute(select(User.id, User.email, User.role, User.patient_id, User.language, User.is_active)
                               .where(User.id.in_(user_ids))).all()
    by_id = {user.id: user for user in users}
    pairs = {(r.recipient_user_id, r.patient_id) for r in rows if r.patient_id and r.recipient_user_id in by_id}
    gone = pairs - related_pairs((by_id[user_id], patient_id) for user_id, patient_id in pairs)
    unrelated = {r.id for r in rows if (r.recipient_user_id, r.patient_id) in gone}
    languages = dict(db.session.execute(select(Patient.id, Patient.language).where(Patient.id.in_(patient_ids))).all())
    prefs = {p.patient_id: p for p in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.patient_id.in_(patient_ids)))}
    not_shared = {r.id for r in rows if r.patient_id and r.id not in unrelated and r.recipient_user_id in by_id
                  and by_id[r.recipient_user_id].role == "caregiver"
                  and not shared_with_caregivers(prefs.get(r.patient_id), r.kind)}
    about = {r.recipient_user_id: r.patient_id for r in rows}
    out = {}
    for user in users:
        patient_id = user.patient_id or about.get(user.id)
        pref = prefs.get(patient_id)
        staff = user.role in ("coordinator", "admin")
        language = (user.language or "en") if staff else languages.get(patient_id, "en")
        out[user.id] = Recipient(user.id, user.email, language,
                                 email_wanted=staff or bool(pref and pref.email),
                                 push_wanted=not staff and bool(pref and pref.push), active=user.is_active)
    push_users = [u for u, r in out.items() if r.push_wanted]
    if push_users:
        for device_id, user_id, token in db.session.execute(
                select(DeviceToken.id, DeviceToken.user_id, DeviceToken.token).where(DeviceToken.user_id.in_(push_users))):
            out[user_id].devices.append((device_id, token))
    return out, {RECIPIENT_UNRELATED: unrelated, NOT_SHARED: not_shared}


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, current_app.config["DISPATCH_RETRY_SECONDS"] * 2 ** (attempts - 1)))


def deliver(rows, now: datetime, token: uuid.UUID) -> dict:
    """Send claimed rows (one message per recipient and set of channels already done)."""
    recipients, withheld = _recipients(rows)
    db.session.commit()  # end the read transaction: on SQLite the writes below then wait their turn
    groups = defaultdict(list)
    voided = defaultdict(list)  # why -> ids of rows not to be sent (never tried)
    for row in rows:
        why = next((why for why, ids in withheld.items() if row.id in ids), None)
        if why:
            voided[why].append(row.id)
        else:
            groups[(row.recipient_user_id, row.channel or "")].append(row)
    sent = defaultdict(list)  # channels string -> ids
    retry, dead, released = [], [], []
    # Stop well before the claim could expire (slow SMTP or push): the rest goes back, untried.
    budget = time.monotonic() + current_app.config["DISPATCH_CLAIM_TIMEOUT_SECONDS"] / 2
    for (user_id, done), group in groups.items():
        if (sent or retry) and time.monotonic() > budget:  # (one group always goes: progress)
            released += [r.id for r in group]
            continue
        recipient = recipients.get(user_id)
        if recipient is None:
            continue
        if not recipient.active:  # deactivated since the rows were queued: not on any channel
            voided[RECIPIENT_DEACTIVATED] += [r.id for r in group]
            continue
        done = set(filter(None, done.split(",")))
        todo = [c for c in CHANNELS if c.name not in done and c.wanted(recipient)]
        message = {}
        if any(c.name != "inbox" for c in todo):  # the inbox renders when it is read
            message = render_bundle([(r.kind, r.payload) for r in group], recipient.language)
            message["data"] = {"kind": group[0].kind, "count": len(group)}
        errors = []
        for channel in todo:
            try:
                channel.send(recipient, message)
                done.add(channel.name)
            except DeliveryError as error:
                errors.append(str(error))
        channels = ",".join(c.name for c in CHANNELS if c.name in done)
        if errors:
            max_attempts = current_app.config["DISPATCH_MAX_ATTEMPTS"]
            retry += [{"row_id": r.id, "channels": channels, "error": "; ".join(errors)[:1000],
                       "new_status": "failed" if r.attempts >= max_attempts else "pending",
                       "retry_at": now + _backoff(r.attempts)} for r in group]
        else:
            sent[channels] += [r.id for r in group]
        dead += recipient.dead_devices
    _record(sent, retry, dead, released, voided, now, token)
    return {"sent": sum(len(ids) for ids in sent.values()), "retry": len(retry), "released": len(released),
            "cancelled": sum(len(ids) for ids in voided.values())}


def _record(sent: dict, retry: list, dead_tokens: list, released: list, voided: dict, now: datetime,
            token: uuid.UUID) -> None:
    mine = N.claim_token == token  # a row reclaimed from us meanwhile is someone else's now
    for why, ids in voided.items():  # never tried: its attempt is given back
        db.session.execute(update(N).where(N.id.in_(ids), mine)
                           .values(status="cancelled", claim_token=None, attempts=N.attempts - 1, last_error=why)
                           .execution_options(synchronize_session=False))
    if released:
        db.session.execute(update(N).where(N.id.in_(released), mine)
                           .values(status="pending", claim_token=None, attempts=N.attempts - 1)
                           .execution_options(synchronize_session=False))
    for channels, ids in sent.items():
        db.session.execute(update(N).where(N.id.in_(ids), mine)
                           .values(status="sent", sent_at=now, channel=channels, last_error=None)
                           .execution_options(synchronize_session=False))
    if retry:
        table = N.__table__
        stmt = (table.update().where(table.c.id == bindparam("row_id"), table.c.claim_token == token)
                .values(status=bindparam("new_status"), channel=bindparam("channels"), last_error=bindparam("error"), due_at=bindparam("retry_at"),
                        claim_token=None))
        db.session.execute(stmt, retry)
    if dead_tokens:
        db.session.execute(DeviceToken.__table__.delete().where(DeviceToken.token.in_(dead_tokens)))
    db.session.commit()


def dispatch(now: datetime, *, batch_size: int | None = None, max_batches: int = 100) -> dict:
    """Reclaim, then claim and deliver batches until nothing is due (or max_batches)."""
    batch_size = batch_size or current_app.config["DISPATCH_BATCH_SIZE"]
    totals = {"reclaimed": reclaim(now), "claimed": 0, "sent": 0, "retry": 0, "cancelled": 0}
    token = uuid.uuid4()
    for _ in range(max_batches):
        rows = claim(now, batch_size, token)
        if not rows:
            break
        totals["claimed"] += len(rows)
        outcome = deliver(rows, now, token)
        totals["sent"] += outcome["sent"]
        totals["retry"] += outcome["retry"]
        totals["cancelled"] += outcome["cancelled"]
        if outcome["released"]:
            break  # delivery is slow: leave the rest to the next tick (or another dispatcher)
    if totals["claimed"] or totals["reclaimed"]:
        log.info("dispatch: %s", totals)
    return totals
