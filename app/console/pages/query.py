"""A list page's query string, read with the API's own schema: a value it refuses (page=abc,
severity=nonsense) is a 400 page naming the field, never a 500. Empty fields of a GET form
count as absent."""
from math import ceil
from urllib.parse import urlencode

from flask import request
from flask_babel import gettext as _
from marshmallow import ValidationError

from app.errors import ApiError
from app.extensions import fields_with_nul


def load_args(schema, list_keys=(), defaults=None, means_any=None) -> dict:
    """means_any: {key: the form's value for "any"}, which the API does not take (dropped)."""
    raw = dict(defaults or {})
    for key in request.args:
        values = [v for v in request.args.getlist(key) if v.strip() != "" and v != (means_any or {}).get(key)]
        if values:
            raw[key] = values if key in list_keys else values[-1]
        elif key in (means_any or {}):
            raw.pop(key, None)
    try:
        nul = fields_with_nul(raw)  # as the API's parser: PostgreSQL cannot compare with one
        if nul:
            raise ValidationError(nul)
        return schema.load(raw)
    except ValidationError as error:
        fields = ", ".join(sorted(error.messages))
        raise ApiError(400, _("These filters could not be read: %(fields)s. Change them and try again, or "
                              "clear the filters.", fields=fields)) from None


def page_url(page: int) -> str:
    """This page's own URL with another page number: every filter kept."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page" and v != ""]
    args.append(("page", str(page)))
    return f"{request.path}?{urlencode(args)}"


def pager(page) -> dict:
    """What templates/console/partials/pagination.html shows for a Page."""
    return {"pages": max(1, ceil(page.total / page.per_page)), "first_url": page_url(1),
            "previous_url": page_url(page.page - 1) if page.page > 1 else None,
            "next_url": page_url(page.next_page) if page.next_page else None}
