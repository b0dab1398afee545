"""The console's zh-CN pages show the data in Chinese where the data has a Chinese text: the values
in a rule's title and explanation (medicines, scans, sites, exercise kinds, symptoms, dates), plan
template names, and the services' messages that carry a value. Rule sources are written in English
only (seed/rules/rules.yaml), so they are marked as English text."""
import html
import re
import uuid

from tests.console_client import signed_in
from tests.factories import enrolled_patient
from tests.test_console_actions import messages
from tests.test_console_caseload import add_flag, add_patient

ZH = {"Accept-Language": "zh-CN"}
KNEE = {"sites": [{"site": "distal_femur", "side": "left", "scan_date": "2026-03-02", "bmd": 0.55, "delta_g_cm2": None,
                   "percent": None, "lsc": None, "lsc_unit": None, "previous_scan_date": None}],
        "exercise_kinds": ["standing", "vibration"], "lowest_bmd": 0.55}
DOSE = {"medicine": "denosumab", "treatment_id": str(uuid.uuid4()), "last_dose_on": "2026-01-05",
        "next_due_on": "2026-07-05", "days_overdue": 40}
SCAN = {"followup_id": str(uuid.uuid4()), "due_date": "2026-02-01", "days_overdue": 45, "kind": "repeat"}


def flag_html(page: str, flag_id: str) -> str:
    """The flag's title, evidence and explanation as a reader sees them (not its source, which is
    English only)."""
    article = page.split(f'id="flag-{flag_id}" data-flag-id="{flag_id}"')[1].split("</article>")[0]
    shown = article.split(">", 1)[1].split('<p class="source">')[0]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", shown)))


def test_rule_texts_name_their_values_in_the_pages_language(app, client, world):
    knee = add_flag(client, world.a_id, "knee_bmd_low_while_loading", "warning", KNEE)
    dose = add_flag(client, world.a_id, "dose_overdue", "warning", DOSE)
    scan = add_flag(client, world.a_id, "dxa_followup_overdue", "warning", SCAN)
    console = signed_in(app, world.coord_a)
    for url in ("/console/flags", f"/console/patients/{world.a_id}"):
        page = console.get(url, headers=ZH).get_data(as_text=True)
        knee_zh, dose_zh, scan_zh = (flag_html(page, f) for f in (knee, dose, scan))
        assert "计划中包含站立训练和振动训练" in knee_zh and "standing" not in knee_zh and "vibration" not in knee_zh
        assert "地舒单抗 用药已逾期 40 天" in dose_zh and "denosumab" not in dose_zh and "药物 地舒单抗" in dose_zh  # the evidence too
        assert "上次用药在 2026年1月5日；下次应在 2026年7月5日。" in dose_zh
        assert "原定于 2026年2月1日 的重复检查尚未完成或预约" in scan_zh and "repeat" not in scan_zh
    english = console.get("/console/flags", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Denosumab dose overdue by 40 days" in flag_html(english, dose)
    assert "the plan prescribes standing and vibration" in flag_html(english, knee)
    assert "The repeat scan was due on Feb 1, 2026" in flag_html(english, scan)


def test_the_timeline_names_a_flags_values_too(app, client, world):
    add_flag(client, world.a_id, "dose_overdue", "warning", DOSE)
    page = signed_in(app, world.coord_a).get(f"/console/patients/{world.a_id}", headers=ZH).get_data(as_text=True)
    timeline = re.search(r'<section id="timeline".*?</section>', page, re.DOTALL).group(0)
    assert "地舒单抗 用药已逾期 40 天" in timeline and "denosumab" not in timeline


def test_a_lost_site_is_named_in_chinese(app, client, world):
    lost = add_flag(client, world.a_id, "dxa_loss_beyond_lsc", "warning", {
        "sites": [dict(KNEE["sites"][0], site="total_hip", side="right", percent=-4.2)],
        "site_names": ["total_hip (right)"]})
    page = signed_in(app, world.coord_a).get("/console/flags", headers=ZH).get_data(as_text=True)
    shown = flag_html(page, lost)
    assert "total_hip" not in shown and "以下部位有真实的骨量丢失：全髋（右）。" in shown


def test_the_rule_source_is_marked_as_english_on_a_chinese_page(app, world):
    console = signed_in(app, world.coord_a)
    page = console.get("/console/flags", headers=ZH).get_data(as_text=True)
    assert re.search(r'<p class="source"><span class="source-label">阈值来源：</span> <span lang="en">Product practice',
                     page)
    english = console.get("/console/flags", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="en">Product' not in english and "</span> Product practice" in english


def test_a_template_plan_is_named_in_the_pages_language(app, client, world):
    _sam, profile = enrolled_patient(client, world.coord_a, display_name="Sam Jones", language="en",
                                     time_zone="Europe/London")
    plan = world.coord_a.post(f"/api/v1/patients/{profile['id']}/plans", json={
        "template": "standing-for-bone", "acknowledge_warnings": ["autonomic_dysreflexia"]}).get_json()
    assert plan["name"] == "Standing for bone"  # the patient's language, kept on the plan
    console = signed_in(app, world.coord_a)
    page = html.unescape(console.get(f"/console/patients/{profile['id']}", headers=ZH).get_data(as_text=True))
    plan_section = re.search(r'<section id="plan".*?</section>', page, re.DOTALL).group(0)
    assert "<h3>站立护骨计划 " in plan_section and "当前计划：站立护骨计划" in page
    assert "Standing for bone" not in page
    english = html.unescape(console.get(f"/console/patients/{world.a_id}").get_data(as_text=True))
    assert "<h3>Combined programme " in english  # patient A (zh-CN) has 综合训练计划 on the plan


def test_a_plan_named_by_hand_keeps_its_name(app, client, world):
    _p, profile = enrolled_patient(client, world.coord_a, language="en", time_zone="Europe/London")
    r = world.coord_a.post(f"/api/v1/patients/{profile['id']}/plans", json={
        "template": "standing-for-bone", "name": "Standing with Dr Lee", "acknowledge_warnings": ["autonomic_dysreflexia"]})
    assert r.status_code == 201, r.get_json()
    page = signed_in(app, world.coord_a).get(f"/console/patients/{profile['id']}", headers=ZH).get_data(as_text=True)
    assert "<h3>Standing with Dr Lee " in page


def test_a_service_message_with_a_value_is_translated_keeping_the_value(app, client, world):
    planless = add_patient(client, world, "No Plan Yet")
    console = signed_in(app, world.coord_a)
    console.post("/console/language", data={"language": "zh-CN", "next": "/console/"})
    r = console.post(f"/console/patients/{planless}/plans", data={"template": "no-such-template"})
    shown = messages(console, r)
    assert "没有名为“no-such-template”的计划模板。" in shown and "No plan template" not in shown


def test_service_text_patterns(app):
    from app.console.service_texts import service_text

    with app.test_request_context("/console/", headers=ZH):
        assert service_text("Longer than maximum length 300.") == "超过最大长度（300 个字符）。"
        assert service_text("Length must be between 3 and 40.") == "长度须在 3 到 40 个字符之间。"
        assert service_text("No such patient.") != "No such patient."  # an exact entry still wins
        assert service_text("Something the catalogue has never seen.") == "Something the catalogue has never seen."
    with app.test_request_context("/console/", headers={"Accept-Language": "en"}):
        assert service_text("No plan template 'x'.") == "No plan template 'x'."
