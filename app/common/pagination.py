"""The one pagination helper: numbered pages with a capped size, and a next link."""
from urllib.parse import urlencode

import marshmallow as ma
from flask import request
from sqlalchemy import func, select

from app.extensions import db

MAX_PER_PAGE = 100


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100000))
    per_page = ma.fields.Integer(
        load_default=20, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE)
    )


class PageMeta(ma.Schema):
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    next_page = ma.fields.Integer(allow_none=True)
    next_url = ma.fields.String(allow_none=True)


_page_schemas: dict = {}


def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """A {items, meta} envelope schema for item_schema (one class per item schema)."""
    name = item_schema.__name__.removesuffix("Schema") + "Page"
    if name not in _page_schemas:
        _page_schemas[name] = type(
            name,
            (ma.Schema,),
            {
                "items": ma.fields.List(ma.fields.Nested(item_schema)),
                "meta": ma.fields.Nested(PageMeta),
            },
        )
    return _page_schemas[name]


def paginate(stmt, page: int, per_page: int, *, scalars: bool = True) -> dict:
    """Run stmt for one page; returns {items, meta} with a link to the next page."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = rows.scalars().all() if scalars else rows.all()
    return envelope(items, total, page, per_page)


def envelope(items: list, total: int, page: int, per_page: int) -> dict:
    """{items, meta} for one page of total, with a link to the next page."""
    next_page = page + 1 if page * per_page < total else None
    next_url = None
    if next_page:
        args = request.args.to_dict()
        args.update(page=next_page, per_page=per_page)
        next_url = f"{request.path}?{urlencode(args)}"
    return {
        "items": items,
        "meta": {"page": page, "per_page": per_page, "total": total,
                 "next_page": next_page, "next_url": next_url},
    }
