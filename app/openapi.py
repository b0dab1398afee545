"""The one finishing pass over the OpenAPI document, applied to every operation.

flask-smorest builds the document from the routes' decorators and the marshmallow schemas;
`finish` then makes it a contract a client can be generated from, by rules, so that a route
added later is finished without touching this file:

- operationId from the endpoint's function name (camelCase, a verb first: `listPatients`; a
  GET of a list `list...`; a lone verb takes its blueprint's noun), with a few names made
  readable in OPERATION_IDS; a summary from the docstring's first
  sentence (or the operationId in words).
- security: the Bearer scheme, the refresh token's own scheme, `security: []` on public
  operations.
- the errors an operation can answer, each with the Problem body: what its decorators and the
  request guards imply (401 authenticated; 400/413/415 on every write, whose body is parsed
  first; 422 with a body, a query or If-Match on a change; 412 where a read answers 304 (its
  If-Match, If-Unmodified-Since); 404 with a path parameter; 400/403/404 with
  `{patient_id}`, the access policy; 429 rate-limited; 503 wherever the database is used)
  plus EXTRA_STATUSES for what only the service decides (role gates, 409, 423); what a route
  declares itself (409 with `current`, 412/428) keeps its schema and gets the Problem body if
  it has none.
- headers: Accept-Language where the route reads the language, If-None-Match (and If-Match,
  If-Unmodified-Since where it sends Last-Modified) where it can answer 304, Content-Language /
  Last-Modified where the view sets them, Retry-After on 423/429/503, Location on 201 (app/common/headers.py sets it by the same rule).
- `required` on every response schema by a dump-side rule (every field but those whose
  metadata says `optional`: marshmallow dumps every field whose attribute exists);
  components used both in requests and responses get a response twin (`...Read`).
- named enums (ENUMS: one component each, referenced everywhere), one `Measures` schema,
  `servers`, and no unused component.
tests/test_spec_audit.py checks the result; tests/test_declared_statuses.py compares it with
what the tests saw the app answer.
"""
import copy
import functools
import inspect
import json
import re

import marshmallow as ma
from apispec import APISpec

from app.auth.models import ROLES
from app.common.i18n import LANGUAGES
from app.dxa.models import FOLLOWUP_KINDS, FOLLOWUP_STATUSES, SIDES, SITES
from app.exercises.models import KINDS as EXERCISE_KINDS
from app.patients.models import AIS_GRADES, NEURO_LEVELS, SEXES
from app.plans.models import DAY_NAMES
from app.plans.schemas import WARNING_CODES
from app.reminders.models import STATUSES as NOTIFICATION_STATUSES

REF = "#/components/schemas/"
PROBLEM = "Problem"
METHODS = ("get", "put", "post", "delete", "patch")

# Named enums: one component each, by its values (any order). The code's own constants.
ENUMS = {
    "Language": LANGUAGES,
    "Role": ROLES,
    "StaffRole": ("coordinator", "admin"),
    "AisGrade": AIS_GRADES,
    "NeurologicalLevel": NEURO_LEVELS,
    "Sex": SEXES,
    "LoggedByRole": ("patient", "caregiver"),
    "PlanStatus": ("scheduled", "active", "paused", "ended"),
    "ProgressStatus": ("unread", "opened", "completed"),
    "ProgressChange": ("opened", "completed"),
    "AlertSeverity": ("urgent", "warning"),
    "BloodPressureReading": ("high", "low"),
    "ScheduleKind": ("days_of_week", "weekly"),
    "BatchItemStatus": ("created", "unchanged", "updated", "error"),
    "ExerciseKind": EXERCISE_KINDS,
    "DxaSite": SITES,
    "DxaSide": SIDES,
    "FollowUpKind": FOLLOWUP_KINDS,
    "FollowUpStatus": FOLLOWUP_STATUSES,
    "Weekday": DAY_NAMES,
    "SafetyWarningCode": WARNING_CODES,
    "SafetyWarningRequires": ("acknowledge", "override"),
    "DevicePlatform": ("android", "ios", "web"),
    "NotificationStatus": NOTIFICATION_STATUSES,
    "TreatmentSchedule": ("interval", "daily_course"),
    "TreatmentStatus": ("active", "ended"),
}
# Response fields that are plain strings in their schema but take one of those values: by
# property name anywhere, and by (schema, property) ("[]": the items of a list).
PROPERTY_ENUMS = {"language": "Language", "served_language": "Language", "role": "Role",
                  "ais_grade": "AisGrade", "neurological_level": "NeurologicalLevel"}
SCHEMA_PROPERTY_ENUMS = {
    ("Session", "logged_by_role"): "LoggedByRole",
    ("Plan", "status"): "PlanStatus",
    ("PatientModule", "status"): "ProgressStatus",
    ("Progress", "status"): "ProgressChange",
    ("Alert", "severity"): "AlertSeverity",
    ("AlertBranch", "when"): "BloodPressureReading",
    ("AgendaItem", "schedule"): "ScheduleKind",
    ("BatchResult", "status"): "BatchItemStatus",
    ("Exercise", "kind"): "ExerciseKind",
    ("AgendaExercise", "kind"): "ExerciseKind",
    ("DxaResult", "site"): "DxaSite",
    ("DxaResult", "side"): "DxaSide",
    ("DxaFollowUp", "kind"): "FollowUpKind",
    ("DxaFollowUp", "status"): "FollowUpStatus",
    ("PlanItem", "days_of_week[]"): "Weekday",
    ("TemplateItem", "days_of_week[]"): "Weekday",
    ("Device", "platform"): "DevicePlatform",
    ("Notification", "status"): "NotificationStatus",
    ("Treatment", "schedule"): "TreatmentSchedule",
    ("Treatment", "status"): "TreatmentStatus",
}

# Readable names where the function's own would say too little (endpoint -> operationId).
OPERATION_IDS = {
    "me.me": "getMe",
    "health.healthz": "getLiveness",
    "health.readyz": "getReadiness",
    "plans.assign": "assignPlan",
    "plans.add_version": "addPlanVersion",
    "plan-templates.list_templates": "listPlanTemplates",
    "sessions.batch": "putSessionBatch",
    "sessions.changes": "listSessionChanges",
    "adherence.weekly": "getWeeklyAdherence",
    "patient-education.overview": "getPatientEducation",
    "patient-education.recommend": "recommendModule",
    "patient-education.withdraw": "withdrawRecommendation",
    "my-notifications.mark_mine_read": "markMyNotificationRead",
    "reminders.mark_read": "markNotificationRead",
    "reminders.mark_all_read": "markAllNotificationsRead",
    "reminders.snooze": "snoozeNotification",
    "reminders.unread_count": "getUnreadNotificationCount",
    "reminders.get_preferences": "getNotificationPreferences",
    "reminders.put_preferences": "putNotificationPreferences",
    "calendar.calendar_feed": "getCalendarIcs",
    "calendar.feed_status": "getCalendarFeed",
    "calendar.issue_token": "createCalendarFeed",
    "calendar.revoke_token": "deleteCalendarFeed",
    "audit.list_events": "listAuditEvents",
    "coordinator.fhir": "getFhirBundle",
    "coordinator.own_data": "exportPatientData",
    "coordinator.own_sessions_csv": "exportPatientSessionsCsv",
    "caseload.caseload_csv": "exportCaseloadCsv",
}
VERBS = {"list", "get", "create", "update", "delete", "put", "add", "remove", "record", "submit",
         "recommend", "withdraw", "invite", "revoke", "reissue", "activate", "login", "logout",
         "refresh", "change", "request", "confirm", "mark", "snooze", "pause", "resume", "end",
         "issue", "register", "assign", "acknowledge", "resolve", "export", "set", "rotate", "log"}
# Blueprints whose functions' names need the domain to be clear (dxa.create_result -> createDxaResult).
QUALIFIERS = {"dxa": "Dxa"}
METHOD_VERBS = {"get": "get", "post": "create", "put": "put", "patch": "update", "delete": "delete"}

# What the service decides and no decorator shows: operationId -> statuses it can answer.
ROLE_GATED = (403,)
CONFLICT = (409,)
EXTRA_STATUSES = {
    "login": (401, 423),  # a wrong e-mail or password; locked
    "activate": (401, 423) + CONFLICT,  # a caregiver with a login links with its password; already linked
    "changePassword": (423,),
    "createPatient": ROLE_GATED,
    "listUsers": ROLE_GATED, "createUser": ROLE_GATED + CONFLICT, "updateUser": ROLE_GATED + CONFLICT,
    "listAuditEvents": ROLE_GATED,
    "listCaseload": ROLE_GATED, "exportCaseloadCsv": ROLE_GATED, "listCaseloadFlags": ROLE_GATED,
    "listRules": ROLE_GATED,
    "reissueInvitation": CONFLICT,  # already activated
    "removeFromCareTeam": CONFLICT,  # the last active coordinator
    "pausePlan": CONFLICT, "resumePlan": CONFLICT, "endPlan": CONFLICT,  # not in a state for it
}
NO_DATABASE = {"getLiveness"}  # touches nothing: never 503

ERRORS = {
    400: ("BadRequest", "The body is not JSON (or too deeply nested), or `me` is ambiguous: a caregiver "
                        "of several patients names the patient's id"),
    401: ("Unauthorized", "Not authenticated: no token, or one that is not valid, expired or revoked "
                          "(`WWW-Authenticate: Bearer`); at login, a wrong e-mail address or password"),
    403: ("Forbidden", "Related to the patient (or signed in) but not allowed to do this"),
    404: ("NotFound", "No such resource, or no relation to the patient (the same answer, so ids cannot "
                      "be probed); a path parameter that is not a UUID names itself in `errors`"),
    409: ("Conflict", "Conflicts with what is stored (see the detail)"),
    412: ("PreconditionFailed", "Changed since the version named in If-Match: read it again"),
    413: ("PayloadTooLarge", "The body is larger than the server accepts"),
    415: ("UnsupportedMediaType", "Send the body as application/json"),
    422: ("UnprocessableEntity", "Not valid: `errors` says which field and why"),
    423: ("Locked", "Too many failed logins for this e-mail address: retry after `Retry-After` seconds"),
    428: ("PreconditionRequired", "Send If-Match (the ETag or revision you read)"),
    429: ("TooManyRequests", "Rate limited: retry after `Retry-After` seconds"),
    503: ("ServiceUnavailable", "The database does not answer (or is busy): retry after `Retry-After` seconds"),
}
RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
LOCATION = {"description": "The URL of what was created", "schema": {"type": "string"}}
CONTENT_LANGUAGE = {"description": "The language served (zh-CN or en)", "schema": {"$ref": REF + "Language"}}
LAST_MODIFIED = {"description": "When the content last changed (HTTP date)", "schema": {"type": "string"}}
ACCEPT_LANGUAGE = {"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
                   "description": "zh-CN or en (a `lang` query parameter wins); else the patient's language"}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "The ETag of the cached copy: 304 when it is current"}
# A read that can answer 304 checks the read's own preconditions first (app/common/conditional.py).
READ_PRECONDITIONS = (
    {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "Answer only if this is still the version with one of these ETags (`*`: any); else 412"},
    {"name": "If-Unmodified-Since", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "Answer only if not modified since (HTTP date; without If-Match); else 412"},
)
SERVERS = [{"url": "/", "description": "The host that serves this document (e.g. http://127.0.0.1:5000)"}]
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "The access token from login, activate or refresh (15 minutes)"},
    "refreshToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                     "description": "The refresh token (30 days), as `Authorization: Bearer <refresh token>`; "
                                    "only POST /api/v1/auth/refresh takes it"},
}


class FinishedSpec(APISpec):
    """The APISpec whose to_dict is finished (installed by `install`)."""

    def to_dict(self):
        raw = json.dumps(super().to_dict(), sort_keys=True)
        cached = getattr(self, "standstrong_finished", None)
        if cached is None or cached[0] != raw:  # routes and schemas are all registered by then: once
            finished = finish(json.loads(raw), self.standstrong_app, self.standstrong_api)
            cached = self.standstrong_finished = (raw, json.dumps(finished))
        return json.loads(cached[1])  # a copy the caller may change


def install(api, app) -> None:
    api.spec.__class__ = FinishedSpec
    api.spec.standstrong_app = app
    api.spec.standstrong_api = api


# --- helpers ---------------------------------------------------------------------------------

def camel(words) -> str:
    words = [w for w in words if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def views_by_operation(app) -> dict:
    """(method, openapi path) -> (endpoint, view function)."""
    found = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(method.lower(), openapi_path(rule.rule))] = (rule.endpoint, app.view_functions[rule.endpoint])
    return found


def _singular(word: str) -> str:
    return word[:-3] + "y" if word.endswith("ies") else word[:-1] if word.endswith("s") else word


def operation_id(endpoint: str, method: str, op: dict | None = None, path: str = "") -> str:
    """The function's name, camelCase, a verb first: a GET of a list (an array or a page) is
    `list...`, another GET `get...`, other methods their verb; a lone verb gets the blueprint's
    noun (flags.resolve -> resolveFlag). OPERATION_IDS names the rest."""
    if endpoint in OPERATION_IDS:
        return OPERATION_IDS[endpoint]
    blueprint, function = endpoint.rsplit(".", 1) if "." in endpoint else ("", endpoint)
    words = function.split("_")
    if words[0] not in VERBS:
        verb = METHOD_VERBS[method]
        if method == "get" and not path.endswith("}") and _lists(op or {}):
            verb = "list"
        words.insert(0, verb)
    qualifier = QUALIFIERS.get(blueprint)
    if qualifier and qualifier.lower() not in words:
        words.insert(1, qualifier)
    if len(words) == 1 and blueprint and words[0] not in ("login", "logout", "refresh", "activate"):
        words.append(_singular(re.split(r"[-_]", blueprint)[-1]))
    return camel(words)


def _lists(op: dict) -> bool:
    content = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    return schema.get("type") == "array" or schema.get("$ref", "").endswith("Page")


@functools.lru_cache(maxsize=None)
def _source(view) -> str:
    """The view's source, with that of the module's own helpers it calls (`_with_etag`), for the
    headers the view sets."""
    try:
        function = inspect.unwrap(view)
        text = inspect.getsource(function)
    except (OSError, TypeError):
        return ""
    module = inspect.getmodule(function)
    for name in set(re.findall(r"\b(_\w+)\(", text)):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and helper.__module__ == function.__module__:
            try:
                text += inspect.getsource(helper)
            except (OSError, TypeError):
                pass
    return text


def _summary(op, op_id):
    """The docstring's first sentence (flask-smorest gives its first paragraph); what follows goes
    to the description. No docstring: the operationId in words."""
    text = " ".join((op.get("summary") or "").split())
    if not op.get("description"):
        op.pop("description", None)
    if not text:
        words = re.sub(r"([A-Z])", r" \1", op_id).split()
        return " ".join(words).capitalize() + "."
    first = re.match(r"(.+?[.!?])(\s|$)", text)
    summary = first.group(1) if first else text
    if len(summary) > 140:  # one long sentence: up to its first clause, the whole in the description
        clause = re.match(r"(.{20,140}?)[;:,] ", summary)
        summary = (clause.group(1) if clause else summary[:137].rsplit(" ", 1)[0]) + "."
    rest = text[len(summary):].strip() if text.startswith(summary) else text
    if rest:
        op["description"] = (rest + "\n\n" + op["description"]) if op.get("description") else rest
    return summary


def _rate_limited(app, view) -> bool:
    from flask_limiter.util import get_qualified_name

    limiters = app.extensions.get("limiter") or ()
    if not isinstance(limiters, (set, list, tuple)):
        limiters = (limiters,)
    # The decorated routes by name (reading the limits themselves needs an app context).
    return any(get_qualified_name(view) in limiter.limit_manager._decorated_limits for limiter in limiters)


def location_template(paths: dict, method: str, path: str, schema_has_id: bool) -> str | None:
    """Where a 201 of (method, path) points (app/common/headers.created_location sends it by the
    same rule): the resource itself (PUT); for a POST answering an id, the new item under the
    collection, else the item the POST acts on (a plan's new version: the plan); else the
    collection it joined. None: nothing to read it back from."""
    def readable(template):
        return "get" in paths.get(template, {})

    if method == "put":
        return path if readable(path) else None
    if method != "post":
        return None
    if schema_has_id:
        for other in paths:
            if readable(other) and re.fullmatch(re.escape(path) + r"/\{\w+\}", other):
                return other
        parent = path.rsplit("/", 1)[0]
        if parent.endswith("}") and readable(parent):
            return parent
    return path if readable(path) else None


# --- schemas -------------------------------------------------------------------------------

def _refs(node, schemas, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            name = ref[len(REF):]
            if name not in found and name in schemas:
                found.add(name)
                _refs(schemas[name], schemas, found)
        for value in node.values():
            _refs(value, schemas, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, schemas, found)
    return found


def _marshmallow_schemas(api) -> dict:
    """component name -> marshmallow schema instance."""
    found = {}
    for key, name in api.ma_plugin.converter.refs.items():
        cls, modifiers = key[0], dict(key[1] or ())
        try:
            found[name] = cls(**modifiers)
        except TypeError:
            found[name] = cls()
    return found


def dump_required(schema: ma.Schema) -> list[str]:
    """The fields a dump always has: marshmallow writes every dump field whose attribute or key
    exists; the services build every view whole, so all of them but those marked optional."""
    names = []
    for name, field in schema.dump_fields.items():
        if field.metadata.get("optional"):
            continue
        names.append(field.data_key or name)
    return sorted(names)


def _retarget(node, renames):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF) and ref[len(REF):] in renames:
            node["$ref"] = REF + renames[ref[len(REF):]]
        for value in node.values():
            _retarget(value, renames)
    elif isinstance(node, list):
        for value in node:
            _retarget(value, renames)


def _response_nodes(spec):
    for item in spec["paths"].values():
        for method in METHODS:
            if method in item:
                yield item[method].get("responses", {})
    yield spec["components"].get("responses", {})


def _request_nodes(spec):
    for item in spec["paths"].values():
        yield item.get("parameters", [])
        for method in METHODS:
            if method in item:
                yield item[method].get("requestBody", {})
                yield item[method].get("parameters", [])


def _required(spec, api):
    schemas = spec["components"]["schemas"]
    marsh = _marshmallow_schemas(api)
    request_side = set()
    for node in _request_nodes(spec):
        _refs(node, schemas, request_side)
    response_side = set()
    for node in _response_nodes(spec):
        _refs(node, schemas, response_side)
    # A component on both sides gets a response twin, so a request keeps its own required.
    twins = {name: name + "Read" for name in response_side & request_side if name in marsh}
    for name, twin in twins.items():
        schemas[twin] = copy.deepcopy(schemas[name])
        schemas[twin].pop("required", None)
    for node in _response_nodes(spec):
        _retarget(node, twins)
    for twin in twins.values():
        _retarget(schemas[twin], twins)
    for name in response_side - request_side:
        _retarget(schemas[name], twins)
    for name in (response_side - request_side) | set(twins):
        if name not in marsh:
            continue
        target = schemas[twins.get(name, name)]
        required = [field for field in dump_required(marsh[name]) if field in target.get("properties", {})]
        for prop in target.get("properties", {}).values():
            prop.pop("readOnly", None)  # a response twin is read anyway
        if required:
            target["required"] = required


def _response_enums(spec):
    """Mark the plain-string response fields that take named values (PROPERTY_ENUMS,
    SCHEMA_PROPERTY_ENUMS); _enum_components then makes them references."""
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        base = name.removesuffix("Read")
        for prop_name, prop in schema.get("properties", {}).items():
            for key, target in ((prop_name, prop), (prop_name + "[]", prop.get("items"))):
                enum = SCHEMA_PROPERTY_ENUMS.get((base, key)) or (PROPERTY_ENUMS.get(key) if key == prop_name else None)
                if not enum or not isinstance(target, dict) or "enum" in target or "$ref" in target:
                    continue
                kind = target.get("type")
                if kind != "string" and not (isinstance(kind, list) and "string" in kind):
                    continue
                target["enum"] = list(ENUMS[enum]) + ([None] if isinstance(kind, list) and "null" in kind else [])


def _schema_variants(spec, api):
    """A schema that takes exactly one of some fields (its OPENAPI_ONE_OF: variant suffix ->
    the field it requires) becomes a oneOf of typed variants, each with its field required and
    without the others, so generated clients get a union of two models, not `Any`."""
    schemas = spec["components"]["schemas"]
    for name, schema in _marshmallow_schemas(api).items():
        variants = getattr(schema, "OPENAPI_ONE_OF", None)
        if not variants or name not in schemas or "properties" not in schemas[name]:
            continue
        whole = schemas[name]
        refs = []
        for suffix, field in variants.items():
            variant = copy.deepcopy(whole)
            for other in variants.values():
                if other != field:
                    variant["properties"].pop(other, None)
            variant["required"] = sorted(set(variant.get("required", [])) | {field})
            variant_name = name + suffix
            schemas[variant_name] = variant
            refs.append({"$ref": REF + variant_name})
        schemas[name] = {"oneOf": refs, "description": "Exactly one of: " + ", ".join(
            f"`{field}`" for field in variants.values())}


def _enum_components(spec):
    """Every enum: a named component, referenced wherever it was inlined."""
    schemas = spec["components"]["schemas"]
    by_values = {frozenset(values): name for name, values in ENUMS.items()}
    seen: dict = {}  # frozenset(values) -> (name, values in order, type)

    def name_for(values, prop_name, owner):
        key = frozenset(values)
        if key in by_values:
            return by_values[key]
        if key in seen:
            return seen[key][0]
        base = camel(re.split(r"[_\-]", prop_name)) if prop_name else "Value"
        base = base[:1].upper() + base[1:]
        taken = set(schemas) | set(ENUMS) | {n for n, *_ in seen.values()}  # ENUMS' names are theirs
        candidate = base if base not in taken else owner + base
        while candidate in taken:
            candidate += "Value"
        return candidate

    def visit(node, prop_name, owner):
        if isinstance(node, dict):
            if "enum" in node and "$ref" not in node:
                values = [v for v in node["enum"] if v is not None]
                nullable = None in node["enum"] or (isinstance(node.get("type"), list) and "null" in node["type"])
                kind = node.get("type")
                kind = [t for t in kind if t != "null"][0] if isinstance(kind, list) else (kind or "string")
                name = name_for(values, prop_name, owner)
                seen.setdefault(frozenset(values), (name, values, kind))
                ref = {"$ref": REF + name}
                keep = {k: node[k] for k in ("description", "default") if k in node}
                node.clear()
                if nullable:
                    node["anyOf"] = [ref, {"type": "null"}]
                else:
                    node.update(ref)
                node.update(keep)
                return
            for key, value in list(node.items()):
                if key == "properties" and isinstance(value, dict):
                    for child_name, child in value.items():
                        visit(child, child_name, owner)
                elif key == "parameters" and isinstance(value, list):
                    for param in value:
                        visit(param.get("schema", {}), param.get("name", ""), owner)
                elif key not in ("examples", "example"):
                    visit(value, prop_name, owner)
        elif isinstance(node, list):
            for value in node:
                visit(value, prop_name, owner)

    for name in list(schemas):
        visit(schemas[name], "", name)
    for path, item in spec["paths"].items():
        owner = camel([w for w in re.split(r"[/{}\-_.]", path) if w and w not in ("api", "v1")][-2:])
        visit(item, "", owner[:1].upper() + owner[1:])
    for key, (name, values, kind) in seen.items():
        if name in schemas and "enum" not in schemas[name]:
            raise RuntimeError(f"enum {name} would replace the schema of that name: rename it in app/openapi.ENUMS")
        schemas[name] = {"type": kind, "enum": list(values)}


def _measures(spec):
    """One schema for a session's measures (as sent, as stored, in the agenda)."""
    schemas = spec["components"]["schemas"]
    used = False
    for name, schema in schemas.items():
        prop = schema.get("properties", {}).get("measures")
        if prop and (prop.get("type") == "object" or "additionalProperties" in prop):
            schema["properties"]["measures"] = {"$ref": REF + "Measures"}
            used = True
    if used:
        schemas["Measures"] = {
            "type": "object", "additionalProperties": {"type": "number"},
            "description": "Values by the exercise's measure keys (e.g. `speed_rpm`), numbers as sent: an "
                           "integer stays an integer"}


def _prune(spec):
    """Drop components nothing refers to (apispec registers some for every API)."""
    components = spec["components"]
    while True:
        text = repr({k: v for k, v in spec.items() if k != "components"}) + repr(
            {kind: {name: value for name, value in group.items()} for kind, group in components.items()
             if kind != "securitySchemes"})
        removed = False
        for kind in ("schemas", "responses", "headers", "parameters"):
            for name in list(components.get(kind, {})):
                if f"'#/components/{kind}/{name}'" not in text:
                    del components[kind][name]
                    removed = True
        if not removed:
            break
    for kind in list(components):
        if not components[kind]:
            del components[kind]


# --- operations -----------------------------------------------------------------------------

def _problem_content(schema_ref=REF + PROBLEM):
    return {"application/problem+json": {"schema": {"$ref": schema_ref}}}


def _error_component(status):
    name, description = ERRORS[status]
    response = {"description": description, "content": _problem_content()}
    if status in (423, 429, 503):
        response["headers"] = {"Retry-After": RETRY_AFTER}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
    return name, response


def _statuses_for(op, method, path, path_params, view, app, op_id):
    statuses = set()
    security = op.get("security")
    if security and any(s for s in security):
        statuses.add(401)
    if method in ("post", "put", "patch", "delete"):
        statuses |= {400, 413, 415}  # any body a write sends is parsed first (app/__init__._json_only)
    if "requestBody" in op:
        statuses.add(422)
    if any(p.get("in") == "query" for p in op.get("parameters", [])):
        statuses.add(422)
    if method != "get" and any(p.get("in") == "header" and p.get("name") == "If-Match"
                               for p in op.get("parameters", [])):
        statuses.add(422)  # not a revision
    if "304" in op.get("responses", {}):
        statuses.add(412)  # a read's If-Match or If-Unmodified-Since (app/common/conditional.py)
    if path_params:
        statuses.add(404)
    if "patient_id" in path_params:
        statuses |= {400, 403, 404}
    if view is not None and _rate_limited(app, view):
        statuses.add(429)
    if op_id not in NO_DATABASE:
        statuses.add(503)  # the database does not answer (app/errors.py, with Retry-After)
    statuses |= set(EXTRA_STATUSES.get(op_id, ()))
    return statuses


def _finish_operation(spec, paths, path, method, op, endpoint, view, app, components_responses):
    op_id = op.get("operationId") or operation_id(endpoint, method, op, path)
    op["operationId"] = op_id
    op["summary"] = _summary(op, op_id)
    security = op.get("security")
    if security is None:
        op["security"] = []
    path_params = set(re.findall(r"{(\w+)}", path))
    responses = op.setdefault("responses", {})
    responses.pop("default", None)
    for status in sorted(_statuses_for(op, method, path, path_params, view, app, op_id)):
        if str(status) not in responses:
            name, component = _error_component(status)
            components_responses.setdefault(name, component)
            responses[str(status)] = {"$ref": "#/components/responses/" + name}
    source = _source(view) if view is not None else ""
    _documented_content(responses, view)
    # A read that takes If-Modified-Since sends Last-Modified (app/common/conditional.py).
    modified = "Last-Modified" in source or any(
        p.get("in") == "header" and p.get("name") == "If-Modified-Since" for p in op.get("parameters", []))
    for code, response in list(responses.items()):
        if "$ref" in response:
            if response["$ref"].rsplit("/", 1)[-1].isupper():  # flask-smorest's: ours instead
                name, component = _error_component(int(code))
                components_responses.setdefault(name, component)
                response["$ref"] = "#/components/responses/" + name
            continue
        status = int(code)
        if status >= 400:
            response.setdefault("content", _problem_content())
            for content in response["content"].values():
                content.setdefault("schema", {"$ref": REF + PROBLEM})
            if status in (423, 429, 503):
                response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
        headers = response.setdefault("headers", {})
        if 200 <= status < 300 or status == 304:
            if "Content-Language" in source:
                headers["Content-Language"] = CONTENT_LANGUAGE
            if modified and status != 204:
                headers["Last-Modified"] = LAST_MODIFIED
            if re.search(r"etag", source, re.I) and "ETag" not in headers and status != 204:
                headers["ETag"] = {"description": "The version of this representation (send it as "
                                                  "If-None-Match to revalidate)", "schema": {"type": "string"}}
        if status == 304 and "ETag" not in headers:
            headers["ETag"] = {"description": "The current ETag", "schema": {"type": "string"}}
        if status == 201:
            schema = (response.get("content", {}).get("application/json", {}).get("schema", {}))
            target = spec["components"]["schemas"].get(schema.get("$ref", "")[len(REF):], {})
            has_id = "id" in target.get("properties", {})
            if location_template(paths, method, path, has_id):
                headers["Location"] = LOCATION
        if not headers:
            del response["headers"]
    params = op.setdefault("parameters", [])
    names = {(p.get("in"), p.get("name")) for p in params}
    reads_language = ("requested_language" in source or "accept_languages" in source
                      or ("query", "lang") in names)
    if reads_language and ("header", "Accept-Language") not in names:
        params.append(dict(ACCEPT_LANGUAGE))
    if "304" in responses and ("header", "If-None-Match") not in names:
        params.append(dict(IF_NONE_MATCH))
    if "304" in responses:
        params.extend(dict(p) for p in READ_PRECONDITIONS  # If-Unmodified-Since needs a Last-Modified
                      if ("header", p["name"]) not in names and ("Last-Modified" in source or p["name"] == "If-Match"))
    if not params:
        del op["parameters"]


def _documented_content(responses, view):
    """A success the route documents with only a content type (a CSV, a FHIR bundle): its body,
    as a string or an object of that type."""
    documented = ((getattr(view, "_apidoc", None) or {}).get("response") or {}).get("responses", {})
    for status, entries in documented.items():
        response = responses.get(str(status))
        if response is None or "$ref" in response or response.get("content") or int(status) in (204, 304):
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            kind = (entry or {}).get("content_type")
            if kind:
                schema = {"type": "object"} if kind.endswith("json") else {"type": "string"}
                response["content"] = {kind: {"schema": schema}}


def _path_parameters(item, path):
    """Say what a path parameter takes (`me`, a slug)."""
    for param in item.get("parameters", []):
        if param["name"] == "patient_id":
            param["description"] = ("The patient's id (UUID), or `me`: the patient's own record, or the one "
                                    "patient a caregiver acts for")
        elif param["name"] == "exercise_id":
            param["description"] = "The exercise's id (UUID) or its slug (e.g. `fes-cycling`)"
        elif param["name"] == "slug":
            param["description"] = "The module's slug (e.g. `keep-going`)"


def finish(spec: dict, app, api) -> dict:
    components = spec.setdefault("components", {})
    components_responses = components.setdefault("responses", {})
    # flask-smorest's own error responses (DEFAULT_ERROR, UNPROCESSABLE_ENTITY): ours replace them.
    for name in [n for n in components_responses if n.isupper()]:
        del components_responses[name]
    views = views_by_operation(app)
    seen_ids = {}
    for path, item in spec["paths"].items():
        _path_parameters(item, path)
        for method in METHODS:
            if method not in item:
                continue
            endpoint, view = views.get((method, path), (f"unknown.{method}_{path}", None))
            _finish_operation(spec, spec["paths"], path, method, item[method], endpoint, view, app,
                              components_responses)
            op_id = item[method]["operationId"]
            if op_id in seen_ids:
                raise RuntimeError(f"operationId {op_id} of {method.upper()} {path} is also "
                                   f"{seen_ids[op_id]}: add a name in app/common/openapi.OPERATION_IDS")
            seen_ids[op_id] = f"{method.upper()} {path}"
    components.setdefault("securitySchemes", {}).update(copy.deepcopy(SECURITY_SCHEMES))
    _required(spec, api)
    _schema_variants(spec, api)
    _response_enums(spec)
    _enum_components(spec)
    _measures(spec)
    spec["servers"] = copy.deepcopy(SERVERS)
    _prune(spec)
    return spec
