"""The one pagination helper: services return a finished Page, the page_of schema dumps it."""
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

import marshmallow as ma
from flask import has_request_context, request
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


@dataclass
class Page:
    """One page of a list: the items (models or dataclasses) and where it stands."""

    items: list
    page: int = 1
    per_page: int = MAX_PER_PAGE
    total: int | None = None

    def __post_init__(self):
        if self.total is None:
            self.total = len(self.items)

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.page * self.per_page < self.total else None

    @property
    def meta(self) -> dict:
        """Dumped by the web layer: the next link is the request's own URL with the next page
        (every value of a repeated parameter kept: ?severity=info&severity=urgent)."""
        next_url = None
        if self.next_page and has_request_context():
            args = request.args.to_dict(flat=False)
            args.update(page=[self.next_page], per_page=[self.per_page])
            next_url = f"{request.path}?{urlencode(args, doseq=True)}"
        return {"page": self.page, "per_page": self.per_page, "total": self.total,
                "next_page": self.next_page, "next_url": next_url}

    def map(self, convert: Callable[[Any], Any]) -> "Page":
        """The same page, each item converted."""
        return Page([convert(item) for item in self.items], self.page, self.per_page, self.total)

    def map_all(self, convert: Callable[[list], list]) -> "Page":
        """The same page, its items converted in one call (a view that batches its queries)."""
        return Page(list(convert(self.items)), self.page, self.per_page, self.total)


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


def paginate(stmt, args: dict, *, scalars: bool = True) -> Page:
    """The page asked in args (PageArgs: page, per_page) of a SELECT, or of a list (seed data)."""
    page, per_page = args.get("page", 1), args.get("per_page", 20)
    if isinstance(stmt, (list, tuple)):
        return Page(list(stmt[(page - 1) * per_page:page * per_page]), page, per_page, len(stmt))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = rows.scalars().all() if scalars else rows.all()
    return Page(items, page, per_page, total)

