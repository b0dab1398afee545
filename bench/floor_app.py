"""The floor: a bare Flask + SQLAlchemy 2 + marshmallow app with no middleware, measured beside
StandStrong so every figure says how close an endpoint comes to what this stack allows here.

- GET  /healthz                 bare JSON
- GET  /floor/read              decodes an HS256 JWT (PyJWT) and selects one row by primary key
- PUT  /floor/write/<uuid:id>   validates a session-like body (marshmallow) and inserts if absent

Run by bench/harness.py under gunicorn, on a fresh SQLite file or PostgreSQL database
(FLOOR_DATABASE_URL). Not part of the product.
"""
import os
import uuid
from datetime import datetime, timezone

import jwt
import marshmallow as ma
from flask import Flask, jsonify, request
from sqlalchemy import JSON, DateTime, Integer, String, Uuid, create_engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

SECRET = "floor-secret-0123456789abcdef0123456789"
URL = os.environ["FLOOR_DATABASE_URL"]


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "floor_accounts"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))


class Entry(Base):
    __tablename__ = "floor_sessions"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    pain: Mapped[int | None] = mapped_column(Integer)
    symptoms: Mapped[list] = mapped_column(JSON)


class EntryIn(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    item_key = ma.fields.UUID(required=True)
    started_at = ma.fields.AwareDateTime(required=True)
    duration_minutes = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 300))
    pain = ma.fields.Integer(validate=ma.validate.Range(0, 10))
    symptoms = ma.fields.List(ma.fields.String(), load_default=list)


engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)
if engine.dialect.name == "sqlite":
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA busy_timeout=10000")

insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
schema = EntryIn()
app = Flask(__name__)


def setup() -> str:
    """Create the tables and one account; returns a token for it."""
    Base.metadata.create_all(engine)
    account_id = uuid.uuid4()
    with Session(engine) as db, db.begin():
        db.add(Account(id=account_id, email="floor@example.org", role="patient"))
    return jwt.encode({"sub": str(account_id)}, SECRET, algorithm="HS256")


def _account_id() -> uuid.UUID:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return uuid.UUID(jwt.decode(token, SECRET, algorithms=["HS256"])["sub"])


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@app.get("/floor/read")
def read():
    account_id = _account_id()
    with Session(engine) as db:
        account = db.get(Account, account_id)
        return jsonify(id=str(account.id), email=account.email, role=account.role)


@app.put("/floor/write/<uuid:entry_id>")
def write(entry_id):
    account_id = _account_id()
    try:
        data = schema.load(request.get_json())
    except ma.ValidationError as error:
        return jsonify(errors=error.messages), 422
    values = {"id": entry_id, "account_id": account_id, "started_at": data["started_at"],
              "duration_minutes": data["duration_minutes"], "pain": data.get("pain"),
              "symptoms": data["symptoms"]}
    with Session(engine) as db, db.begin():
        created = db.execute(insert(Entry).values(values).on_conflict_do_nothing(index_elements=["id"])
                             .returning(Entry.id)).first()
        if created is None:
            db.execute(select(Entry).where(Entry.id == entry_id)).scalar_one()
    return jsonify(id=str(entry_id)), 201 if created else 200
