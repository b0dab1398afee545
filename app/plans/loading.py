"""Plans as plain data for adherence and the agenda: a fixed number of queries."""
from functools import cache

from sqlalchemy import bindparam, select

from app.extensions import db
from app.plans.models import Plan, PlanItem, PlanPause, PlanVersion
from app.plans.schedule import ItemSpec, PlanSpec


def _specs_statements(ids):
    """The two statements of load_specs, for ids given as a list parameter or a SELECT."""
    plans = (
        select(Plan.id, Plan.patient_id, Plan.start_date, Plan.ended_on, PlanVersion.id.label("version_id"),
               PlanVersion.number, PlanVersion.effective_from, PlanItem.id.label("item_id"), PlanItem.item_key,
               PlanItem.exercise_id, PlanItem.minutes, PlanItem.sessions_per_week, PlanItem.days_mask,
               PlanItem.start_date.label("item_start"), PlanItem.end_date, PlanItem.time_of_day)
        .join(PlanVersion, PlanVersion.plan_id == Plan.id)
        .join(PlanItem, PlanItem.version_id == PlanVersion.id)
        .where(Plan.patient_id.in_(ids))
        .order_by(Plan.id, PlanVersion.number, PlanItem.position))
    pauses = (select(PlanPause.plan_id, PlanPause.start_date, PlanPause.end_date)
              .join(Plan, Plan.id == PlanPause.plan_id).where(Plan.patient_id.in_(ids)))
    return plans, pauses


@cache
def _specs_for_listed_ids():
    # Built once: on the agenda's hot path, building a statement costs more than running it.
    return _specs_statements(bindparam("ids", expanding=True))


def load_specs(patient_ids) -> dict:
    """{patient_id: [PlanSpec]} for the given patient ids (a list, or a SELECT of ids).

    Two queries whatever the number of patients, plans, versions or items.
    """
    if isinstance(patient_ids, (list, tuple, set)):
        plans_stmt, pauses_stmt = _specs_for_listed_ids()
        params = {"ids": list(patient_ids)}
    else:
        plans_stmt, pauses_stmt = _specs_statements(patient_ids)
        params = {}
    plans: dict = {}
    versions: dict = {}
    result: dict = {}
    for row in db.session.execute(plans_stmt, params):
        spec = plans.get(row.id)
        if spec is None:
            spec = plans[row.id] = PlanSpec(row.id, row.start_date, row.ended_on)
            result.setdefault(row.patient_id, []).append(spec)
        version = versions.get(row.version_id)
        if version is None:
            version = versions[row.version_id] = (row.number, row.effective_from, [])
            spec.versions.append(version)
        version[2].append(ItemSpec(row.item_key, row.exercise_id, row.minutes, row.sessions_per_week,
                                   row.days_mask, row.item_start, row.end_date, row.time_of_day,
                                   row.id, row.item_id, row.number))
    if plans:
        for row in db.session.execute(pauses_stmt, params):
            plans[row.plan_id].pauses.append((row.start_date, row.end_date))
    return result
