import marshmallow as ma

from app.common.pagination import PageArgs


class AuditEventSchema(ma.Schema):
    id = ma.fields.UUID()
    at = ma.fields.DateTime()
    actor_id = ma.fields.UUID(allow_none=True)
    actor_role = ma.fields.String(allow_none=True)
    actor_name = ma.fields.String(allow_none=True, metadata={"description": "A system actor (job), e.g. system:reminders"})
    action = ma.fields.String()
    method = ma.fields.String(allow_none=True)
    route = ma.fields.String(allow_none=True)
    patient_id = ma.fields.UUID(allow_none=True)
    resource_id = ma.fields.String(allow_none=True)
    detail = ma.fields.String(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    client_address = ma.fields.String(allow_none=True)


class AuditListArgs(PageArgs):
    patient_id = ma.fields.UUID()
    actor_id = ma.fields.UUID()
    action = ma.fields.String(validate=ma.validate.Length(max=40))
