"""The numbers the console's charts draw, from the services that already count them:
adherence per Monday-Sunday week (app/adherence/service.window_metrics, as the weekly summary
endpoint counts a week) and DXA results with the rules of app/dxa/content."""
from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.access.policy import READ, patient_for, readable_patient_ids
from app.adherence import service as adherence
from app.console.charts import DxaPoint, SiteSeries, WeekPoint
from app.dxa import content as dxa_content
from app.dxa import service as dxa
from app.dxa.models import KNEE_SITES, SITES
from app.patients.models import Patient
from app.plans.schedule import week_start

DAYS_IN_WEEK = 7
WEEK = timedelta(days=DAYS_IN_WEEK)
RESULTS_PAGE = 200


def _mondays(today: date, weeks: int) -> list[date]:
    """The Mondays of the last `weeks` weeks, oldest first; the last is this week's."""
    this_week = week_start(today)
    return [this_week - WEEK * (weeks - 1 - i) for i in range(weeks)]


def _week(history, patient_id, monday: date, today: date) -> WeekPoint:
    sunday = monday + timedelta(days=6)
    metrics = adherence.window_metrics(history, patient_id, monday, min(sunday, today), today)
    return WeekPoint(week_start=monday, planned_sessions=metrics["expected_sessions"],
                     done_sessions=metrics["completed_sessions"], prescribed_minutes=metrics["prescribed_minutes"],
                     done_minutes=metrics["logged_minutes"], complete=sunday < today)


def _weeks_of(history, patient_id, today: date, weeks: int) -> list[WeekPoint]:
    return [_week(history, patient_id, monday, today) for monday in _mondays(today, weeks)]


def sparkline_days(weeks: int = 12) -> int:
    """How many days before today the sessions of `weeks` sparkline weeks go back."""
    return DAYS_IN_WEEK * weeks - 1


def sparkline_rates(actor, patient_ids, now: datetime, weeks: int = 12, loaded=None) -> dict:
    """{patient_id: the session rates of the last `weeks` weeks, this one (to date) last; None
    for a week with nothing due}, for those of patient_ids that actor may read (the access
    policy's list; others are left out). A fixed number of queries (adherence.history_many),
    whatever the number of patients; none when `loaded` (todays, History: the caseload's own
    read, app/coordinator/caseload.add_adherence, of the policy's rows) covers the weeks."""
    wanted = set(patient_ids)
    if loaded is not None and _covers(loaded, wanted, weeks):
        todays, history = loaded
        todays = {pid: today for pid, today in todays.items() if pid in wanted}
    else:
        readable = select(Patient.id).where(Patient.id.in_(list(patient_ids)),
                                            Patient.id.in_(readable_patient_ids(actor)))
        todays, history = adherence.history_many(readable, now, sparkline_days(weeks))
    return {pid: [w.rate for w in _weeks_of(history, pid, today, weeks)] for pid, today in todays.items()}


def _covers(loaded, wanted: set, weeks: int) -> bool:
    todays, history = loaded
    return history is not None and wanted <= set(todays) and all(
        _mondays(todays[pid], weeks)[0] >= history.loaded_from for pid in wanted)


def weekly_points(actor, patient_ref, now: datetime, weeks: int = 13) -> list[WeekPoint]:
    """The last `weeks` weeks of one patient, this one (to date) last. 404 as the API for an
    actor who may not read the patient."""
    return patient_adherence(actor, patient_ref, now, (), weeks)[1]


def patient_adherence(actor, patient_ref, now: datetime, windows, weeks: int) -> tuple[dict, list[WeekPoint]]:
    """({days: the metrics of the last `days` days, as the adherence endpoint counts them}, the
    last `weeks` weeks) of one patient from one read of their history (history_many and
    window_metrics: the adherence service's counting), not one read per window. 404 as the API
    for an actor who may not read the patient."""
    patient = patient_for(actor, patient_ref, READ)
    back = max([DAYS_IN_WEEK * weeks - 1, *(days - 1 for days in windows)])
    todays, history = adherence.history_many([patient.id], now, back)
    today = todays[patient.id]
    rates = {days: adherence.window_metrics(history, patient.id, today - timedelta(days=days - 1), today, today)
             for days in windows}
    return rates, _weeks_of(history, patient.id, today, weeks)


def all_results(actor, patient_ref, language: str) -> list:
    """Every DXA result of the patient (the results service, page by page: its policy and audit)."""
    page, found = 1, []
    while True:
        results = dxa.list_results(actor, patient_ref, {"page": page, "per_page": RESULTS_PAGE}, language)
        found += results.items
        if results.next_page is None:
            return found
        page = results.next_page


def _band(site: str, baseline, latest) -> tuple[float, float]:
    """The least significant change around the baseline, in g/cm2, as app/dxa/content.change
    judges a change: the latest scan's centre's LSC, in g/cm2 or percent of the earlier value."""
    width = dxa_content.lsc_width(site, latest.centre, baseline.bmd)
    return baseline.bmd - width, baseline.bmd + width


def site_series(site: str, side: str, results: list) -> SiteSeries:
    """One site and side from its DxaResult rows (any order)."""
    results = sorted(results, key=lambda r: r.scan_date)
    baseline, latest = results[0], results[-1]
    change = dxa_content.change(latest, baseline) if latest is not baseline else None
    return SiteSeries(
        site=site, side=side,
        points=tuple(DxaPoint(r.scan_date, r.bmd, dxa_content.high_fracture_risk(site, r.bmd)) for r in results),
        band=_band(site, baseline, latest),
        knee_threshold=float(dxa_content.knee_threshold()) if site in KNEE_SITES else None,
        change_from_baseline=change["judgement"] if change else None)


def dxa_series(actor, patient_ref, language: str) -> list[SiteSeries]:
    """Every site and side of the patient's DXA results (through the results service and its
    access policy), in the order of app/dxa/models.SITES."""
    return series_of(all_results(actor, patient_ref, language))


def series_of(result_views: list) -> list[SiteSeries]:
    """The site series of these results (views of the results service), in the order of SITES."""
    by_site: dict = {}
    for view in result_views:
        by_site.setdefault((view.result.site, view.result.side), []).append(view.result)
    return [site_series(site, side, rows)
            for (site, side), rows in sorted(by_site.items(), key=lambda kv: (SITES.index(kv[0][0]), kv[0][1]))]
