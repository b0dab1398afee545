import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs
from app.rules.definitions import SEVERITIES, all_rules
from app.rules.models import STATUSES
from app.rules.service import COORDINATOR_OUTCOMES

Length = ma.validate.Length


class FlagListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(("active",) + STATUSES),
                              metadata={"description": "active = open or acknowledged"})
    severity = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SEVERITIES)))
    rule = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(list(all_rules()))))
    lang = LANG_FIELD


class FlagSchema(ma.Schema):
    id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    rule_id = ma.fields.String()
    severity = ma.fields.String(metadata={"enum": list(SEVERITIES)})
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    language = ma.fields.String()
    title = ma.fields.String()
    explanation = ma.fields.String()
    source = ma.fields.String(allow_none=True, metadata={"description": "Where the rule's threshold comes from"})
    evidence = ma.fields.Dict(metadata={"description": "The numbers that raised it and their window"})
    opened_at = ma.fields.AwareDateTime()
    last_seen_at = ma.fields.AwareDateTime(metadata={"description": "When the condition was last found"})
    acknowledged_at = ma.fields.AwareDateTime(allow_none=True)
    acknowledged_by_id = ma.fields.UUID(allow_none=True)
    resolved_at = ma.fields.AwareDateTime(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True, metadata={"description": "A coordinator's id, or system:rules"})
    outcome = ma.fields.String(allow_none=True)
    resolution_note = ma.fields.String(allow_none=True)
    reopened_from_id = ma.fields.UUID(allow_none=True, metadata={"description": "The previous episode of this rule"})


class FlagAcknowledgeSchema(ma.Schema):
    pass


class FlagResolveSchema(ma.Schema):
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf(COORDINATOR_OUTCOMES))
    note = ma.fields.String(required=True, validate=Length(min=1, max=2000))


class RuleSchema(ma.Schema):
    id = ma.fields.String()
    severity = ma.fields.String()
    runs = ma.fields.String(metadata={"enum": ["sweep", "on_write"]})
    enabled = ma.fields.Boolean()
    title = ma.fields.String()
    explanation = ma.fields.String()
    parameters = ma.fields.Dict()
    source = ma.fields.String()
    auto_resolve = ma.fields.Boolean()
    suppressed_when_paused = ma.fields.Boolean()


class RuleArgs(PageArgs):
    lang = LANG_FIELD
