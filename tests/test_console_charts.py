"""The console's charts (app/console/charts: SVG from numbers) and their figures
(app/console/figures: the numbers, from the adherence and DXA services, equal to the API's).

March 2027: Mondays 1, 8, 15, 22. NOW is Wednesday 24 March, noon UTC."""
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, force_locale

from app.auth.models import User
from app.common.clock import local_today
from app.console import figures
from app.console.charts import (
    ChartText,
    DxaPoint,
    SiteSeries,
    WeekPoint,
    dxa_sites,
    sparkline,
    weekly_adherence,
)
from app.dxa import content as dxa_content
from app.errors import ApiError
from app.extensions import db
from tests.factories import at, enrolled_patient
from tests.statements import statements_on

UTC = timezone.utc
NOW = datetime(2027, 3, 24, 12, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
ZH = "zh_Hans_CN"
CATALOGUE = (Path(__file__).resolve().parent.parent / "app" / "console" / "translations" / ZH / "LC_MESSAGES"
             / "messages.po")
HOSTILE = '<script>alert("x")</script> & Co'


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# --- a Flask app with Babel and the zh-CN strings of charts_zh.txt ---------------------------

def _po() -> Catalog:
    with CATALOGUE.open("rb") as source:
        return read_po(source, locale=ZH)


def _catalogue(directory: Path) -> None:
    target = directory / ZH / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as out:
        write_mo(out, _po())


@pytest.fixture(scope="module")
def babel_app(tmp_path_factory):
    directory = tmp_path_factory.mktemp("translations")
    _catalogue(directory)
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    Babel(app, locale_selector=lambda: "en")
    return app


@pytest.fixture
def en(babel_app):
    with babel_app.app_context():
        yield


def in_zh(babel_app, draw):
    with babel_app.app_context(), force_locale(ZH):
        return draw()


def parse(chart):
    root = ET.fromstring(str(chart.svg))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id and root.find(f"{SVG}desc").get("id") == desc_id
    assert "<script" not in str(chart.svg) and "javascript" not in str(chart.svg).lower()
    return root


def by_class(root, name):
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def weeks_of(*rows, first=date(2027, 1, 4)):
    return [WeekPoint(first + timedelta(weeks=i), planned, done, prescribed, minutes, True)
            for i, (planned, done, prescribed, minutes) in enumerate(rows)]


def knee_and_spine():
    knee = SiteSeries("distal_femur", "left", (DxaPoint(date(2026, 1, 5), 0.712, False),
                                               DxaPoint(date(2026, 7, 6), 0.66, False),
                                               DxaPoint(date(2027, 1, 4), 0.58, True)),
                      band=(0.643, 0.781), knee_threshold=0.6, change_from_baseline="real_loss")
    spine = SiteSeries("lumbar_spine", "none", (DxaPoint(date(2026, 1, 5), 1.1, False),),
                       band=(1.04, 1.16), knee_threshold=None)
    return [knee, spine]


# --- the charts ------------------------------------------------------------------------------

def test_every_chart_is_well_formed_labelled_svg_that_escapes_what_it_writes(en):
    spark = sparkline([0.5, None, 1.0], label=HOSTILE, id="spark-1")
    weekly = weekly_adherence(weeks_of((4, 3, 120, 90)), text=ChartText("adherence", HOSTILE))
    bone = dxa_sites(knee_and_spine(), text=ChartText("dxa", HOSTILE))
    for chart in (spark, weekly, bone):
        root = parse(chart)
        assert HOSTILE in root.find(f"{SVG}title").text
        assert root.find(f"{SVG}desc").text == chart.summary
        assert "&lt;script&gt;" in str(chart.svg)
    assert spark.summary.startswith(HOSTILE)
    with pytest.raises(ValueError):
        sparkline([0.5], label="x", id='a" onload="alert(1)')


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast_with_white(colour: str) -> float:
    return 1.05 / (_luminance(colour) + 0.05)


def test_colours_pass_wcag_aa_against_white(en):
    charts = [sparkline([0.2, None, 0.9], label="A"), weekly_adherence(weeks_of((4, 2, 60, 45), (0, 0, 0, 0)),
                                                                       text=ChartText("w", "W")),
              dxa_sites(knee_and_spine(), text=ChartText("d", "D"))]
    for chart in charts:
        for element in parse(chart).iter():
            for attribute in ("fill", "stroke"):
                colour = element.get(attribute)
                if not colour or not colour.startswith("#") or colour == "#ffffff":
                    continue
                needed = 4.5 if element.tag == f"{SVG}text" else 3
                assert _contrast_with_white(colour) >= needed, (element.tag, attribute, colour)


def test_sparkline_points_are_proportional_and_a_week_with_nothing_planned_is_not_zero(en):
    chart = sparkline([1.0, 0.5, None, 0.0], label="Alice")
    root = parse(chart)
    rates = by_class(root, "rate")
    empty = by_class(root, "none-planned")
    assert [float(c.get("cy")) for c in rates] == [3, 12, 21]  # 100 %, 50 %, 0 % on a 24-high chart
    assert len(empty) == 1 and empty[0].get("fill") == "none" and float(empty[0].get("cy")) != 21
    assert float(empty[0].get("cx")) == pytest.approx(63)  # the third of four weeks
    path = root.find(f"{SVG}path").get("d")
    assert path.count("M") == 2  # the line breaks at the empty week
    assert chart.summary == ("Alice: weekly adherence over 4 weeks from 0% to 100%, latest 0%. "
                             "Nothing planned in 1 week.")
    nothing = sparkline([None] * 12, label="Bob")
    assert not by_class(parse(nothing), "rate") and len(by_class(parse(nothing), "none-planned")) == 12
    assert nothing.summary == "Bob: nothing planned in the last 12 weeks."
    assert sparkline([None], label="Cy").summary == "Cy: nothing planned in the last 1 week."


def test_weekly_bars_and_minutes_are_proportional_with_empty_weeks_marked(en):
    weeks = weeks_of((4, 4, 120, 120), (4, 2, 120, 60), (0, 0, 0, 0), (4, 0, 120, 0))
    root = parse(weekly_adherence(weeks, text=ChartText("adherence", "Adherence")))
    groups = by_class(root, "week")
    assert len(groups) == 4
    heights = [[float(r.get("height")) for r in by_class(g, "done")] for g in groups]
    planned = [[float(r.get("height")) for r in by_class(g, "planned")] for g in groups]
    assert heights[1][0] == pytest.approx(heights[0][0] / 2) and planned[0] == planned[1] == planned[3]
    assert heights[2] == heights[3] == [] and planned[2] == []  # none planned: no bar at all
    assert by_class(groups[2], "none-planned") and groups[2].get("data-rate") is None
    assert groups[3].get("data-rate") == "0.0000" and not by_class(groups[3], "none-planned")
    done = [float(c.get("cy")) for c in by_class(root, "minutes-done-point")]
    bottom = done[3]  # 0 minutes
    assert (bottom - done[1]) == pytest.approx((bottom - done[0]) / 2)
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "Jan 4" in labels and "Jan 25" in labels
    monday = weeks_of((4, 3, 120, 90)) + [WeekPoint(date(2027, 1, 11), 0, 0, 0, 0, complete=False)]
    assert weekly_adherence(monday, text=ChartText("a", "A")).summary == (
        "2 weeks: 3 of 4 planned sessions done (75%). This week: nothing due so far. "
        "Minutes: 90 done of 120 prescribed.")


def test_weekly_summary_in_english_and_chinese(babel_app):
    weeks = weeks_of(*[(4, 3, 120, 100)] * 9, (4, 4, 120, 130), (4, 2, 120, 60), (4, 2, 120, 60))
    weeks[-1] = WeekPoint(weeks[-1].week_start, 4, 2, 120, 60, complete=False)

    def draw():
        return weekly_adherence(weeks, text=ChartText("adherence", "Adherence"))

    with babel_app.app_context():
        english = draw()
    assert english.summary == ("12 weeks: 35 of 48 planned sessions done (73%). This week so far: 2 of 4. "
                               "Minutes: 1,150 done of 1,440 prescribed.")
    chinese = in_zh(babel_app, draw)
    assert chinese.summary == ("12 周：计划 48 次训练，完成 35 次（73%）。本周至今：4 次中完成 2 次。"
                               "时长：规定 1,440 分钟，完成 1,150 分钟。")
    root = parse(chinese)
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "次数" in labels and "计划次数" in labels
    # twelve weeks: every other one labelled, this week's included; each bar's title names its week
    assert "3月22日" in labels and "3月15日" not in labels and "1月11日" in labels
    assert by_class(root, "week")[0].find(f"{SVG}title").text.startswith("1月4日 起的一周：计划 4 次，完成 3 次")


def test_dxa_band_and_knee_line_only_where_they_apply(en):
    knee, spine = knee_and_spine()
    no_band = SiteSeries("total_hip", "right", (DxaPoint(date(2026, 1, 5), 0.9, False),), band=None,
                         knee_threshold=None)
    chart = dxa_sites([knee, spine, no_band], text=ChartText("dxa", "DXA"))
    panels = {p.get("data-site"): p for p in by_class(parse(chart), "site")}
    assert by_class(panels["distal_femur"], "lsc-band") and by_class(panels["distal_femur"], "knee-threshold")
    assert by_class(panels["lumbar_spine"], "lsc-band") and not by_class(panels["lumbar_spine"], "knee-threshold")
    assert not by_class(panels["total_hip"], "lsc-band") and not by_class(panels["total_hip"], "knee-threshold")
    # points on the knee panel: y falls linearly with the BMD; the point below the threshold is a triangle
    points = [(float(g.get("data-bmd")), g) for g in panels["distal_femur"].iter(f"{SVG}g") if g.get("data-bmd")]
    ys = [float(g.find(f"{SVG}circle").get("cy")) if g.find(f"{SVG}circle") is not None else None for _, g in points]
    assert ys[2] is None and by_class(points[2][1], "high-risk")
    triangle = by_class(points[2][1], "high-risk")[0].get("d")
    ys[2] = float(triangle.split()[1]) + 5  # its apex is 5 above the point
    px = (ys[1] - ys[0]) / (0.712 - 0.66)  # downwards per g/cm2 less
    assert px > 0 and (ys[2] - ys[0]) / (0.712 - 0.58) == pytest.approx(px, rel=0.01)
    line = by_class(panels["distal_femur"], "knee-threshold")[0].find(f"{SVG}line")
    band = by_class(panels["distal_femur"], "lsc-band")[0].find(f"{SVG}rect")
    assert float(line.get("y1")) == pytest.approx(ys[0] + (0.712 - 0.6) * px, abs=0.1)
    assert float(band.get("height")) == pytest.approx((0.781 - 0.643) * px, abs=0.1)
    assert float(band.get("y")) == pytest.approx(ys[0] - (0.781 - 0.712) * px, abs=0.1)
    assert chart.summary.startswith(
        "Distal femur, left: 0.580 g/cm² on Jan 4, 2027. 3 scans. Since the baseline of Jan 5, 2026: a real loss. "
        "Below the knee fracture-risk threshold (0.60 g/cm²). Lumbar spine: 1.100 g/cm² on Jan 5, 2026. 1 scan.")


def test_dxa_summary_in_chinese_and_an_empty_chart(babel_app):
    chart = in_zh(babel_app, lambda: dxa_sites(knee_and_spine()[:1], text=ChartText("dxa", "DXA")))
    assert chart.summary.startswith("股骨远端（左）：2027年1月4日 为 0.580 g/cm²。共 3 次检查。")
    assert "低于膝部骨折风险阈值（0.60 g/cm²）。" in chart.summary
    with babel_app.app_context():
        empty = dxa_sites([], text=ChartText("dxa", "DXA"))
    assert empty.summary == "No DXA results yet." and parse(empty).find(f"{SVG}text").text == empty.summary
    spark = in_zh(babel_app, lambda: sparkline([0.5, None, 1.0], label="张三"))
    assert spark.summary == "张三：最近 3 周的每周依从率在 50% 至 100% 之间，最近一周 100%。其中 1 周没有安排训练。"


def test_every_string_of_the_charts_has_a_chinese_translation_that_compiles():
    root = Path(__file__).resolve().parent.parent / "app" / "console" / "charts"
    found = {msg if isinstance(msg, str) else msg[0]
             for _f, _l, msg, _c, _x in extract_from_dir(root, method_map=[("**.py", "python")])}
    catalogue = _po()
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id and m.string}
    assert found <= translated, sorted(found - translated)
    problems = [(message.id, errors) for message, errors in catalogue.check() if errors]
    assert not problems  # what pybabel compile checks: placeholders and plural forms


# --- the figures, from the services ---------------------------------------------------------

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def planned_patient(client, world, days=(1, 2, 3, 8, 10, 15, 16, 17, 18, 22, 23), tz="Asia/Shanghai"):
    """A patient of coordinator A from 1 March 2027: FES cycling Mon/Wed/Fri (30 min) and
    standing three times a week (45 min), with sessions on the given March days."""
    patient, profile = enrolled_patient(client, world.coord_a, time_zone=tz, language="en",
                                        neurological_level="T10")
    url = f"/api/v1/patients/{profile['id']}"
    with at(utc(2027, 2, 27, 12), world.coord_a):
        plan = world.coord_a.post(f"{url}/plans", json={
            "start_date": "2027-03-01", "acknowledge_warnings": ["autonomic_dysreflexia"],
            "items": [{"exercise": "fes-cycling", "minutes": 30, "days_of_week": ["mon", "wed", "fri"]},
                      {"exercise": "passive-standing", "minutes": 45, "sessions_per_week": 3}]})
        assert plan.status_code == 201, plan.get_json()
    keys = [i["item_key"] for i in plan.get_json()["versions"][0]["items"]]
    for n, day in enumerate(days):
        when = utc(2027, 3, day, 2)
        with at(when + timedelta(hours=1), patient):
            r = patient.put(f"{url}/sessions/{uuid.uuid4()}", json={
                "item_key": keys[n % 2], "started_at": when.isoformat(), "duration_minutes": 30 + 5 * (n % 3)})
            assert r.status_code == 201, r.get_json()
    return patient, profile


def user(actor) -> User:
    return db.session.get(User, uuid.UUID(actor.id))


def test_weekly_points_equal_the_weekly_summary_endpoint(app, client, world):
    _, profile = planned_patient(client, world)
    with at(NOW), app.app_context():
        points = figures.weekly_points(user(world.coord_a), profile["id"], NOW)
    assert len(points) == 13 and points[-1].week_start == date(2027, 3, 22) and not points[-1].complete
    assert all(p.planned_sessions == 0 for p in points[:9]) and points[9].week_start == date(2027, 3, 1)
    with at(NOW, world.coord_a):
        for point in points[8:]:
            api = world.coord_a.get(f"/api/v1/patients/{profile['id']}/adherence/weekly?week={point.week_start}")
            body = api.get_json()
            assert (point.planned_sessions, point.done_sessions, point.prescribed_minutes, point.done_minutes) == (
                body["planned_sessions"], body["completed_sessions"], body["prescribed_minutes"],
                body["logged_minutes"]), point
        whole = world.coord_a.get(f"/api/v1/patients/{profile['id']}/adherence?from=2027-03-01&to=2027-03-21")
    three = points[9:12]
    assert sum(p.planned_sessions for p in three) == whole.get_json()["expected_sessions"]
    assert sum(p.done_sessions for p in three) == whole.get_json()["completed_sessions"]
    assert points[9].planned_sessions == 6 and points[12].planned_sessions > 0


def test_figures_go_through_the_access_policy(app, client, world):
    with at(NOW, world.coord_b):
        api = world.coord_b.get(f"/api/v1/patients/{world.a_id}/adherence/weekly")
    assert api.status_code == 404
    with at(NOW), app.app_context():
        for gather in (lambda: figures.weekly_points(user(world.coord_b), world.a_id, NOW),
                       lambda: figures.dxa_series(user(world.coord_b), world.a_id, "en")):
            with pytest.raises(ApiError) as refused:
                gather()
            assert (refused.value.code, refused.value.description) == (404, api.get_json()["detail"])


def _statements(app, call):
    with at(NOW), app.app_context(), statements_on(db.session.get_bind()) as counted:
        result = call()
    return counted.n, result


def test_sparkline_rates_take_a_fixed_number_of_queries_and_match_the_weeks(app, client, world):
    """One patient with sessions and one without (the service reads their last session in one
    more query), then three more: the same number of statements."""
    ids = [uuid.UUID(planned_patient(client, world)[1]["id"]),
           uuid.UUID(planned_patient(client, world, (), "America/Los_Angeles")[1]["id"])]
    few, rates = _statements(app, lambda: figures.sparkline_rates(user(world.coord_a), ids, NOW))
    for days, tz in (((1, 3), "Europe/London"), ((), "Asia/Kolkata"), ((22,), "Pacific/Kiritimati")):
        ids.append(uuid.UUID(planned_patient(client, world, days, tz)[1]["id"]))
    many, all_rates = _statements(app, lambda: figures.sparkline_rates(user(world.coord_a), ids, NOW))
    assert few == many <= 8, (few, many)
    assert all_rates[ids[0]] == rates[ids[0]] and len(rates[ids[0]]) == 12
    with at(NOW), app.app_context():
        weeks = figures.weekly_points(user(world.coord_a), str(ids[0]), NOW, weeks=12)
    assert rates[ids[0]] == [w.rate for w in weeks]
    assert rates[ids[0]][:8] == [None] * 8 and rates[ids[0]][8] == 0.5  # week of 1 March: 3 of 6
    assert all_rates[ids[1]][8:] == [0, 0, 0, 0]  # planned, nothing done: 0 %, not "nothing planned"
    assert all_rates[ids[1]][:8] == [None] * 8
    with app.app_context():
        assert figures.sparkline_rates(user(world.coord_a), [], NOW) == {}
        # another coordinator's patient is left out, as the access policy lists patients
        assert figures.sparkline_rates(user(world.coord_b), ids + [uuid.UUID(world.b_id)], NOW).keys() == {
            uuid.UUID(world.b_id)}


def test_dxa_series_from_the_results_service(app, client, world):
    base = f"/api/v1/patients/{world.a_id}/dxa/results"
    today = local_today("Asia/Shanghai")  # patient A's
    for body in ({"scan_date": (today - timedelta(days=2)).isoformat(), "site": "distal_femur", "side": "left",
                  "bmd": 0.58, "centre": "Walk Centre", "machine": "Hologic A"},
                 {"scan_date": (today - timedelta(days=2)).isoformat(), "site": "lumbar_spine", "side": "none",
                  "bmd": 1.1, "centre": "Walk Centre", "machine": "Hologic A"}):
        assert world.coord_a.post(base, json=body).status_code == 201
    latest = world.coord_a.get(f"{base}?site=distal_femur").get_json()["items"][0]
    with app.app_context():
        knee, spine = figures.dxa_series(user(world.coord_a), world.a_id, "en")
        lsc_knee = float(dxa_content.lsc_for("distal_femur", "Walk Centre")["value"])
        lsc_spine = float(dxa_content.lsc_for("lumbar_spine", "Walk Centre")["value"])  # percent
        threshold = float(dxa_content.knee_threshold())
    assert (knee.site, knee.side, [p.bmd for p in knee.points]) == ("distal_femur", "left", [0.712, 0.58])
    assert knee.band == pytest.approx((0.712 - lsc_knee, 0.712 + lsc_knee))
    assert knee.knee_threshold == threshold and [p.high_fracture_risk for p in knee.points] == [False, True]
    assert knee.change_from_baseline == latest["change"]["judgement"] == "real_loss"
    assert latest["high_fracture_risk"] is True
    assert spine.knee_threshold is None and spine.change_from_baseline is None
    assert spine.band == pytest.approx((1.1 * (1 - lsc_spine / 100), 1.1 * (1 + lsc_spine / 100)))


def test_site_series_uses_the_latest_centres_lsc():
    rows = [SimpleNamespace(id=1, scan_date=date(2026, 1, 5), site="proximal_tibia", bmd=0.7, centre="A",
                            machine=None),
            SimpleNamespace(id=2, scan_date=date(2027, 1, 4), site="proximal_tibia", bmd=0.69, centre="A",
                            machine=None)]
    series = figures.site_series("proximal_tibia", "right", list(reversed(rows)))
    lsc = float(dxa_content.lsc_for("proximal_tibia", "A")["value"])
    assert [p.scan_date for p in series.points] == [date(2026, 1, 5), date(2027, 1, 4)]
    assert series.band == pytest.approx((0.7 - lsc, 0.7 + lsc)) and series.change_from_baseline == "no_real_change"
