"""Headers every answer carries, whatever produced it (a view, an error handler, the limiter)."""
from flask import current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

HSTS = "max-age=63072000; includeSubDomains"
RETRY_STATUSES = {423, 429, 503}
JSON_TYPES = ("application/json", "application/problem+json")
ALWAYS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"))
JSON_CSP = ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
NO_STORE = ("Cache-Control", "no-store")  # patient data stays out of every cache


def register_response_headers(app) -> None:
    """Call before the extensions are bound: after_request hooks run in reverse order of
    registration, so this one runs last and sees the limiter's headers. It also answers the
    request's X-Request-ID (set by app/common/logging.py's before_request hook)."""
    production = app.config.get("ENV_NAME") == "production"
    always = ALWAYS + ((("Strict-Transport-Security", HSTS),) if production else ())
    # The pairs for each (JSON?, no Cache-Control?) answer, with the names they replace: our
    # constants, already valid, set in one pass over werkzeug's list instead of a scan and a
    # validation per header.
    variants = {}
    for json_body in (False, True):
        for no_cache_control in (False, True):
            pairs = always + ((JSON_CSP,) if json_body else ()) + ((NO_STORE,) if no_cache_control else ())
            variants[json_body, no_cache_control] = (pairs, frozenset(n.lower() for n, _ in pairs) | {"x-request-id"})
    replaced = frozenset().union(*(names for _, names in variants.values())) - {"cache-control"}

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        items = headers._list
        content_type = cache_control = retry_after = clash = False
        for key, value in items:  # one pass to learn what is there
            key = key.lower()
            if key == "content-type":
                content_type = content_type or value
            elif key == "cache-control":
                cache_control = True
            elif key == "retry-after":
                retry_after = True
            elif key in replaced:
                clash = True
        json_body = bool(content_type) and content_type.partition(";")[0].strip() in JSON_TYPES
        pairs, names = variants[json_body, not cache_control]
        if clash:
            items[:] = [item for item in items if item[0].lower() not in names]
        items.extend(pairs)
        items.append(("X-Request-ID", getattr(g._get_current_object(), "request_id", "")))
        status = response.status_code
        # Flask-Limiter puts its window's Retry-After on every rate-limited route (also on a 200
        # or a 423); only a 429 means that one, and a 423 or 503 keeps the value its body states.
        if status == 201 and "Location" not in headers:
            location = created_location(response)
            if location:
                headers["Location"] = location
        if status in RETRY_STATUSES:
            ours = g.get("retry_after")
            if ours is not None:
                headers["Retry-After"] = str(ours)
        elif retry_after:
            headers.pop("Retry-After", None)
        return response


def _readable(path: str):
    """The GET rule that path matches, or None."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        rule, _ = adapter.match(path, method="GET", return_rule=True)
    except (HTTPException, RequestRedirect):
        return None
    return rule


def _has_get_rule(rule) -> bool:
    """A GET route with the very rule this request matched (so it matches this path too);
    answered without matching the path again (every session PUT asks)."""
    if rule is None or rule.rule.endswith("/"):  # matched before the path lost its slash: match again
        return False
    rules = current_app.extensions.get("standstrong.get_rules")
    if rules is None:
        rules = current_app.extensions["standstrong.get_rules"] = frozenset(
            r.rule for r in current_app.url_map.iter_rules() if "GET" in r.methods)
    return rule.rule in rules


def created_location(response) -> str | None:
    """Where a 201 points, by the rule the spec documents (app/openapi.location_template): the
    resource itself (PUT); for a POST answering an id, the new item under the collection, else
    the item the POST acts on; else the collection it joined."""
    path = request.path.rstrip("/")
    if request.method == "PUT":
        readable = _has_get_rule(request.url_rule) or _readable(path)
        return request.script_root + path if readable else None
    if request.method != "POST":
        return None
    body = response.get_json(silent=True) if response.is_json else None
    created = body.get("id") if isinstance(body, dict) else None
    if created:
        if _readable(f"{path}/{created}"):
            return f"{request.script_root}{path}/{created}"
        parent = path.rsplit("/", 1)[0]
        rule = _readable(parent)
        if rule is not None and rule.rule.endswith(">"):
            return request.script_root + parent
    return request.script_root + path if _readable(path) else None
