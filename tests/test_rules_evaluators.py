"""Each rule with data that just triggers it and data that just does not (pure evaluators,
thresholds from seed/rules/rules.yaml)."""
from datetime import date, datetime, timedelta, timezone

import pytest

from app.adherence.metrics import LoggedSession
from app.adherence.streaks import History
from app.plans.schedule import ItemSpec, PlanSpec
from app.rules.definitions import all_rules, rule
from app.rules.evaluators import EVALUATORS
from app.rules.facts import PatientFacts, SafetySession

TODAY = date(2027, 3, 31)  # a Wednesday
EVERY_DAY = 0b1111111


def plan(start=TODAY - timedelta(days=60), pauses=(), days_mask=EVERY_DAY, per_week=None):
    item = ItemSpec("key", "exercise", 30, per_week, None if per_week else days_mask, start, None)
    return PlanSpec("plan", start, None, versions=[(1, start, [item])], pauses=list(pauses))


def sessions_on(days):
    return [LoggedSession("key", d, 30, datetime(d.year, d.month, d.day, 10, tzinfo=timezone.utc)) for d in days]


def back(*offsets):
    return [TODAY - timedelta(days=n) for n in offsets]


def facts(specs=None, logged=(), safety=()):
    """A patient in UTC whose adherence history (as adherence.history_many gives it) holds these
    plans and sessions: the rules read it through adherence.window_metrics."""
    specs = [plan()] if specs is None else specs
    logged = list(logged)
    last = max((s.started_at for s in logged), default=None)
    history = History({"p": specs}, {"p": logged}, TODAY - timedelta(days=70), {"p": 0},
                      {} if last is None else {"p": last})
    return PatientFacts("p", TODAY, "UTC", specs, history, list(safety), last_session_at=last)


def evaluate(rule_id, f):
    r = rule(rule_id)
    return EVALUATORS[r.evaluator](r, f)


def test_every_rule_is_complete_data_with_an_evaluator():
    for r in all_rules().values():
        assert r.evaluator in EVALUATORS, r.id
        assert r.source and set(r.title) >= {"en", "zh-CN"} and set(r.explanation) >= {"en", "zh-CN"}
        assert r.severity in ("info", "warning", "urgent")


def test_lapse_warning_from_three_days_urgent_from_fourteen():
    assert evaluate("lapse", facts(logged=sessions_on(back(2)))) is None
    warning = evaluate("lapse", facts(logged=sessions_on(back(3))))
    assert (warning.severity, warning.evidence["days"]) == ("warning", 3)
    assert evaluate("lapse", facts(logged=sessions_on(back(13)))).severity == "warning"
    assert evaluate("lapse", facts(logged=sessions_on(back(14)))).severity == "urgent"


def test_lapse_counts_from_a_session_older_than_the_history_read():
    old = facts(logged=[])
    old.last_session_at = datetime(2027, 2, 9, 10, tzinfo=timezone.utc)  # 50 days ago
    assert evaluate("lapse", old).evidence["days"] == 50 and evaluate("never_started", old) is None


def test_lapse_needs_a_plan_in_force_and_counts_from_a_resume():
    assert evaluate("lapse", facts(specs=[], logged=sessions_on(back(10)))) is None
    ended = plan()
    ended.ended_on = TODAY - timedelta(days=1)
    assert evaluate("lapse", facts(specs=[ended], logged=sessions_on(back(10)))) is None
    # the last paused day counts like a day with a session
    paused_until_2_days_ago = plan(pauses=[(TODAY - timedelta(days=9), TODAY - timedelta(days=2))])
    assert evaluate("lapse", facts(specs=[paused_until_2_days_ago], logged=sessions_on(back(10)))) is None
    paused_until_3_days_ago = plan(pauses=[(TODAY - timedelta(days=9), TODAY - timedelta(days=3))])
    assert evaluate("lapse", facts(specs=[paused_until_3_days_ago], logged=sessions_on(back(10)))).evidence["days"] == 3


def test_never_started_after_seven_days():
    assert evaluate("never_started", facts(specs=[plan(start=TODAY - timedelta(days=6))])) is None
    found = evaluate("never_started", facts(specs=[plan(start=TODAY - timedelta(days=7))]))
    assert found.evidence == {"plan_start": "2027-03-24", "days_since_start": 7, "as_of": "2027-03-31"}
    started = sessions_on([TODAY - timedelta(days=7)])
    assert evaluate("never_started", facts(specs=[plan(start=TODAY - timedelta(days=7))], logged=started)) is None
    # sessions before this plan began do not count as starting it; and lapse leaves it to this rule
    earlier = sessions_on([TODAY - timedelta(days=9)])
    assert evaluate("never_started", facts(specs=[plan(start=TODAY - timedelta(days=8))], logged=earlier))
    assert evaluate("lapse", facts(specs=[plan(start=TODAY - timedelta(days=8))], logged=earlier)) is None


def test_seven_day_rate_below_half():
    # 7 days due (yesterday back to 7 days ago); 4 done = 57%, 3 done = 43%
    assert evaluate("low_rate_7d", facts(logged=sessions_on(back(1, 2, 3, 4)))) is None
    found = evaluate("low_rate_7d", facts(logged=sessions_on(back(1, 2, 3))))
    assert found.evidence | {"rate": None} == {
        "window_days": 7, "date_from": "2027-03-24", "date_to": "2027-03-30", "expected": 7, "completed": 3,
        "rate": None, "rate_pct": 43, "below_pct": 50}


def test_thirty_day_rate_below_eighty_percent():
    assert evaluate("low_rate_30d", facts(logged=sessions_on(back(*range(1, 25))))) is None  # 24/30 = 80%
    found = evaluate("low_rate_30d", facts(logged=sessions_on(back(*range(1, 24)))))  # 23/30
    assert (found.severity, found.evidence["completed"], found.evidence["expected"]) == ("info", 23, 30)


def test_days_with_data_below_sixteen_in_thirty():
    assert evaluate("few_data_days", facts(logged=sessions_on(back(*range(1, 17))))) is None
    found = evaluate("few_data_days", facts(logged=sessions_on(back(*range(1, 16)))))
    assert found.evidence["days_with_data"] == 15
    # today's session is not in the window; nor is a plan younger than the window flagged
    assert evaluate("few_data_days", facts(specs=[plan(start=TODAY - timedelta(days=29))])) is None


def test_falling_trend_thirty_points_below_four_weeks():
    baseline = [n for n in range(8, 36)]  # the 4 weeks before: every day done (100%)
    # this week 5/7 = 71%: a drop of 29 points; 4/7 = 57%: 43 points
    assert evaluate("falling_trend", facts(logged=sessions_on(back(*baseline, 1, 2, 3, 4, 5)))) is None
    found = evaluate("falling_trend", facts(logged=sessions_on(back(*baseline, 1, 2, 3, 4))))
    assert (found.evidence["rate_pct"], found.evidence["baseline_pct"]) == (57, 100)
    # without four full weeks of plan before, no baseline to compare with
    young = plan(start=TODAY - timedelta(days=30))
    assert evaluate("falling_trend", facts(specs=[young], logged=sessions_on(back(*range(8, 30))))) is None


def safety(days_ago, pain=None, symptoms=(), alerts=(), written_hours_ago=1):
    d = TODAY - timedelta(days=days_ago)
    at = datetime(2027, 3, 31, 12, tzinfo=timezone.utc) - timedelta(hours=written_hours_ago)
    return SafetySession(f"s{days_ago}-{pain}-{len(symptoms)}", d, at, pain, list(symptoms), list(alerts))


def test_dysreflexia_and_fracture_signs():
    headache = safety(0, symptoms=["pounding_headache"], alerts=["autonomic_dysreflexia"])
    found = evaluate("dysreflexia_signs", facts(safety=[headache]))
    assert found.severity == "urgent" and found.evidence["symptoms"] == ["pounding_headache"]
    # below T6 the session carries the symptom but no alert: nothing
    assert evaluate("dysreflexia_signs", facts(safety=[safety(0, symptoms=["pounding_headache"])])) is None
    assert evaluate("possible_fracture", facts(safety=[headache])) is None
    swelling = safety(2, symptoms=["swelling_warmth_or_deformity"], alerts=["possible_fracture"])
    assert evaluate("possible_fracture", facts(safety=[swelling])).severity == "urgent"
    assert evaluate("possible_fracture", facts(safety=[safety(3, symptoms=["x"], alerts=["possible_fracture"])])) is None
    # one rule can watch several answers
    faint = safety(1, symptoms=["faint_or_weak_when_upright"], alerts=["orthostatic_hypotension"])
    below = safety(0, symptoms=["pounding_headache"], alerts=["dysreflexia_signs_below_level"])
    found = evaluate("blood_pressure_signs", facts(safety=[faint, below]))
    assert found.severity == "warning" and found.evidence["sessions"] == 2


def test_pain_seven_twice_in_seven_days():
    assert evaluate("repeated_pain", facts(safety=[safety(0, pain=7), safety(2, pain=6)])) is None
    assert evaluate("repeated_pain", facts(safety=[safety(0, pain=7), safety(7, pain=8)])) is None
    found = evaluate("repeated_pain", facts(safety=[safety(0, pain=7), safety(6, pain=9)]))
    assert found.evidence["count"] == 2 and found.evidence["max_pain"] == 9


def test_skin_breakdown():
    assert evaluate("skin_breakdown", facts(safety=[safety(0, symptoms=["more_spasms"])])) is None
    assert evaluate("skin_breakdown", facts(safety=[safety(3, symptoms=["electrode_redness"],
                                                           alerts=["skin_injury"])])) is None
    found = evaluate("skin_breakdown", facts(safety=[safety(1, symptoms=["pressure_redness_or_broken_skin"],
                                                            alerts=["skin_injury"])]))
    assert found.severity == "warning"


def test_a_clinic_overrides_parameters_without_code(tmp_path, monkeypatch):
    from app.rules import definitions

    override = tmp_path / "rules.yaml"
    override.write_text("lapse: {parameters: {warning_days: 5}}\nskin_breakdown: {enabled: false}\n")
    assert "skin_breakdown" in {r.id for r in definitions.enabled_rules()}  # asked before the override
    on_write = {r.id for r in definitions.enabled_rules("on_write")}
    monkeypatch.setenv("RULES_OVERRIDES_FILE", str(override))
    definitions.reload()
    try:
        assert {r.id for r in definitions.enabled_rules("on_write")} == on_write - {"skin_breakdown"}
        assert evaluate("lapse", facts(logged=sessions_on(back(4)))) is None
        assert evaluate("lapse", facts(logged=sessions_on(back(5)))).severity == "warning"
        assert "skin_breakdown" not in {r.id for r in definitions.enabled_rules()}
        override.write_text("lapse: {parameters: {warning_hours: 5}}\n")
        definitions.reload()
        with pytest.raises(ValueError, match="no parameter"):
            definitions.all_rules()
    finally:
        monkeypatch.delenv("RULES_OVERRIDES_FILE")
        definitions.reload()


def dxa(site, bmd, judgement=None, side="left", scan=TODAY - timedelta(days=20)):
    change = None if judgement is None else {
        "previous_result_id": "r0", "previous_scan_date": scan - timedelta(days=365), "delta_g_cm2": -0.08,
        "percent": -10.0, "lsc": {"value": 0.069, "unit": "g/cm2", "source": "x"}, "significant": True,
        "judgement": judgement}
    return {"patient_id": "p", "site": site, "side": side, "result_id": "r1", "scan_date": scan, "bmd": bmd,
            "change": change, "high_fracture_risk": site in ("distal_femur", "proximal_tibia") and bmd < 0.60}


def with_extra(f, **extra):
    f.extra.update(extra)
    return f


def test_dxa_follow_up_overdue_by_more_than_thirty_days():
    due = {"patient_id": "p", "followup_id": "f", "kind": "repeat", "due_date": TODAY - timedelta(days=30),
           "status": "due", "days_overdue": 30}
    assert evaluate("dxa_followup_overdue", with_extra(facts(), dxa_overdue=[due])) is None
    found = evaluate("dxa_followup_overdue", with_extra(facts(), dxa_overdue=[{**due, "days_overdue": 31}]))
    assert found.evidence["days_overdue"] == 31 and found.severity == "warning"


def test_dxa_loss_beyond_the_least_significant_change():
    assert evaluate("dxa_loss_beyond_lsc", with_extra(facts(), dxa_latest=[dxa("distal_femur", 0.7, "no_real_change")])) is None
    assert evaluate("dxa_loss_beyond_lsc", with_extra(facts(), dxa_latest=[dxa("distal_femur", 0.7, "not_comparable")])) is None
    found = evaluate("dxa_loss_beyond_lsc", with_extra(facts(), dxa_latest=[dxa("distal_femur", 0.7, "real_loss"),
                                                                            dxa("total_hip", 0.8, "real_gain")]))
    assert [s["site"] for s in found.evidence["sites"]] == ["distal_femur"] and found.evidence["sites"][0]["lsc"] == 0.069


def test_knee_bmd_below_threshold_while_standing_or_vibration_is_prescribed():
    kinds = {"exercise": "standing"}
    low = [dxa("proximal_tibia", 0.59)]
    assert evaluate("knee_bmd_low_while_loading", with_extra(facts(), dxa_latest=[dxa("proximal_tibia", 0.60)],
                                                             exercise_kinds=kinds)) is None
    assert evaluate("knee_bmd_low_while_loading", with_extra(facts(), dxa_latest=low,
                                                             exercise_kinds={"exercise": "fes"})) is None
    found = evaluate("knee_bmd_low_while_loading", with_extra(facts(), dxa_latest=low, exercise_kinds=kinds))
    assert found.evidence["lowest_bmd"] == 0.59 and found.evidence["exercise_kinds"] == ["standing"]
    paused = plan(pauses=[(TODAY - timedelta(days=1), None)])
    assert evaluate("knee_bmd_low_while_loading", with_extra(facts(specs=[paused]), dxa_latest=low,
                                                             exercise_kinds=kinds)) is None


def dose(medicine, last, next_due, late):
    return {"patient_id": "p", "treatment_id": "t", "medicine": medicine, "last_dose_on": last,
            "next_due_on": next_due, "days_overdue": late}


def test_dose_overdue_and_denosumab_beyond_seven_months_is_urgent():
    assert evaluate("dose_overdue", with_extra(facts(), doses=[dose("zoledronic_acid", date(2026, 3, 1),
                                                                    TODAY - timedelta(days=14), 14)])) is None
    warning = evaluate("dose_overdue", with_extra(facts(), doses=[dose("zoledronic_acid", date(2026, 3, 1),
                                                                       TODAY - timedelta(days=15), 15)]))
    assert warning.severity == "warning"
    # last injection 31 August 2026: seven months end on 31 March 2027 (today): not yet urgent
    on_the_day = dose("denosumab", date(2026, 8, 31), date(2027, 2, 28), 31)
    assert evaluate("dose_overdue", with_extra(facts(), doses=[on_the_day])).severity == "warning"
    beyond = dose("denosumab", date(2026, 8, 30), date(2027, 2, 28), 31)
    assert evaluate("dose_overdue", with_extra(facts(), doses=[beyond])).severity == "urgent"
