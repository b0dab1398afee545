import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs


class ModuleListArgs(PageArgs):
    parse_once_per_query = True  # plain fields: the same query string, the same arguments (app/extensions.py)
    lang = LANG_FIELD
    tag = ma.fields.String(validate=ma.validate.Length(max=40))
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=100),
                         metadata={"description": "Free-text search in titles and bodies, any language"})


class ReferenceSchema(ma.Schema):
    key = ma.fields.String()
    citation = ma.fields.String()
    url = ma.fields.String(allow_none=True, dump_default=None,
                           metadata={"description": "The DOI or PubMed link, else the source's page"})
    doi = ma.fields.String(allow_none=True, dump_default=None)
    pmid = ma.fields.String(allow_none=True, dump_default=None)


class SectionSchema(ma.Schema):
    heading = ma.fields.String()
    body = ma.fields.String()
    references = ma.fields.List(ma.fields.String(), dump_default=list,
                                metadata={"description": "Keys of the module's references this section cites"})


class QuizQuestionSchema(ma.Schema):
    id = ma.fields.String()
    question = ma.fields.String()
    options = ma.fields.List(ma.fields.String())


class ModuleSummarySchema(ma.Schema):
    slug = ma.fields.String()
    language = ma.fields.String()
    title = ma.fields.String()
    summary = ma.fields.String()
    tags = ma.fields.List(ma.fields.String())
    reading_minutes = ma.fields.Integer()
    content_version = ma.fields.Integer()
    last_reviewed = ma.fields.Date()
    has_quiz = ma.fields.Boolean()


class ModuleSchema(ModuleSummarySchema):
    audience = ma.fields.String()
    sections = ma.fields.List(ma.fields.Nested(SectionSchema))
    references = ma.fields.List(ma.fields.Nested(ReferenceSchema))
    notice = ma.fields.String(metadata={"description": "Education, not personal medical advice"})
    quiz = ma.fields.List(ma.fields.Nested(QuizQuestionSchema))
    updated_at = ma.fields.DateTime()


class PatientModuleSchema(ModuleSummarySchema):
    status = ma.fields.String(metadata={"description": "unread, opened or completed"})
    opened_at = ma.fields.DateTime(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)
    updated_since_read = ma.fields.Boolean()
    recommended = ma.fields.Boolean()
    recommendation_note = ma.fields.String(allow_none=True)


class ProgressSummarySchema(ma.Schema):
    modules = ma.fields.Integer()
    opened = ma.fields.Integer()
    completed = ma.fields.Integer()
    recommended_not_completed = ma.fields.Integer()


class PatientEducationSchema(ma.Schema):
    language = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(PatientModuleSchema))
    summary = ma.fields.Nested(ProgressSummarySchema)


class ProgressInSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["opened", "completed"]))


class ProgressSchema(ma.Schema):
    slug = ma.fields.String()
    status = ma.fields.String()
    opened_at = ma.fields.DateTime()
    completed_at = ma.fields.DateTime(allow_none=True)
    version_read = ma.fields.Integer()


class RecommendationInSchema(ma.Schema):
    slug = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    note = ma.fields.String(validate=ma.validate.Length(max=300), allow_none=True, metadata={
        "description": "For the patient. On a module already recommended: a note replaces the stored "
                       "one, null clears it, leaving it out keeps it"})


class RecommendationSchema(ma.Schema):
    slug = ma.fields.String()
    note = ma.fields.String(allow_none=True, metadata={"description": "The note stored, the one the patient sees"})


class QuizAnswersSchema(ma.Schema):
    answers = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(max=20)),
                             values=ma.fields.Integer(strict=True), required=True,
                             validate=ma.validate.Length(max=10),
                             metadata={"description": "Question id -> chosen option index"})


class QuizResultItemSchema(ma.Schema):
    id = ma.fields.String()
    chosen = ma.fields.Integer()
    correct_option = ma.fields.Integer()
    correct = ma.fields.Boolean()
    explanation = ma.fields.String()


class QuizAttemptSchema(ma.Schema):
    id = ma.fields.UUID()
    slug = ma.fields.String()
    score = ma.fields.Integer()
    total = ma.fields.Integer()
    content_version = ma.fields.Integer()
    created_at = ma.fields.DateTime()


class QuizResultSchema(QuizAttemptSchema):
    language = ma.fields.String()
    results = ma.fields.List(ma.fields.Nested(QuizResultItemSchema))
