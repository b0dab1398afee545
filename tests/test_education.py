import shutil
import uuid

import pytest
from sqlalchemy import select

from app.education.models import EducationContent, EducationModule, ReadingProgress
from app.education.seed import EDUCATION_DIR, SeedError, load_education, load_references, read_modules
from app.extensions import db
from app.common.i18n import LANGUAGES
from tests.factories import World, at_once
from tests.test_errors import assert_problem

MODULES = "/api/v1/education/modules"
REQUIRED_TOPICS = {
    "how-bone-works", "other-causes-of-bone-loss", "bones-at-risk-and-fracture-signs", "dxa-scans",
    "medicines", "standing-programmes", "fes-cycling", "vibration", "ultrasound", "exercise",
    "safety-standing-and-fes", "keep-going", "calcium-and-vitamin-d", "medicine-safety",
    "after-a-fracture", "falls-and-safe-transfers", "mens-bone-health",
}


# --- the content itself -------------------------------------------------------------------

def test_every_module_has_both_languages_references_and_sections():
    modules = read_modules(EDUCATION_DIR)
    references = load_references(EDUCATION_DIR)
    assert REQUIRED_TOPICS <= set(modules)
    for slug, posts in modules.items():
        assert set(posts) == set(LANGUAGES), slug
        meta = posts["en"].metadata
        assert meta["references"] and all(key in references for key in meta["references"]), slug
        for language, post in posts.items():
            assert post.metadata["title"] and post.metadata["summary"] and post.metadata["audience"], (slug, language)
            assert post.content.count("\n## ") >= 1 or post.content.startswith("## "), (slug, language)


def test_every_module_cites_the_review_or_a_clinical_source():
    modules = read_modules(EDUCATION_DIR)
    cited = {key for posts in modules.values() for key in posts["en"].metadata["references"]}
    assert "review-zhang-yang" in cited and len(cited) >= 15


def test_safety_module_covers_dysreflexia_steps():
    body = read_modules(EDUCATION_DIR)["safety-standing-and-fes"]
    for language, words in (("en", ["T6", "5 minutes", "bladder", "Sit up"]), ("zh-CN", ["T6", "5分钟", "膀胱", "坐直"])):
        assert all(word in body[language].content for word in words), language


@pytest.fixture
def seed_copy(tmp_path):
    target = tmp_path / "education"
    shutil.copytree(EDUCATION_DIR, target)
    return target


def test_a_module_missing_a_language_fails_the_seed(seed_copy):
    (seed_copy / "vibration.zh-CN.md").unlink()
    with pytest.raises(SeedError, match="vibration has no zh-CN"):
        read_modules(seed_copy)


def test_a_module_without_references_fails_the_seed(seed_copy, app_ctx):
    for lang in LANGUAGES:
        path = seed_copy / f"ultrasound.{lang}.md"
        path.write_text(path.read_text(encoding="utf-8").replace(
            "references: [review-zhang-yang, warden-2001]", "references: []"), encoding="utf-8")
    with pytest.raises(SeedError, match="ultrasound: needs references"):
        load_education(seed_copy)


def test_reload_changes_nothing_and_an_edit_bumps_one_module(seed_copy, app_ctx, world):
    assert load_education(seed_copy) == "education: 0 created, 0 updated, 17 unchanged"
    world_progress = ReadingProgress(patient_id=uuid.UUID(world.a_id),
                                     module_id=_module("exercise").id, version_read=1)
    db.session.add(world_progress)
    db.session.commit()
    versions = {m.slug: m.content_version for m in db.session.scalars(select(EducationModule))}
    path = seed_copy / "exercise.en.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Small, regular", "Short, regular"), encoding="utf-8")
    assert load_education(seed_copy) == "education: 0 created, 1 updated, 16 unchanged"
    after = {m.slug: m.content_version for m in db.session.scalars(select(EducationModule))}
    assert after.pop("exercise") == versions.pop("exercise") + 1 and after == versions
    assert db.session.scalar(select(ReadingProgress).where(ReadingProgress.id == world_progress.id))
    assert load_education(seed_copy) == "education: 0 created, 0 updated, 17 unchanged"


def _module(slug):
    return db.session.scalar(select(EducationModule).where(EducationModule.slug == slug))


# --- catalogue and reading ----------------------------------------------------------------

def test_catalogue_language_negotiation(client, world):
    assert client.get(f"{MODULES}?lang=zh-CN").headers["Content-Language"] == "zh-CN"
    for header, expected in (("zh-CN,zh;q=0.9", "zh-CN"), ("zh-TW", "zh-CN"), ("en-GB,en;q=0.8", "en"),
                             ("fr-FR", "en"), ("de, zh;q=0.5", "zh-CN")):
        response = client.get(MODULES, headers={"Accept-Language": header})
        assert response.headers["Content-Language"] == expected, header
        assert all(item["language"] == expected for item in response.get_json()["items"])
    # No Accept-Language: the patient's own preference (patient A prefers zh-CN).
    assert world.patient_a.get(MODULES).headers["Content-Language"] == "zh-CN"
    assert world.patient_b.get(MODULES).headers["Content-Language"] == "en"
    assert client.get(MODULES).headers["Content-Language"] == "en"
    assert_problem(client.get(f"{MODULES}?lang=fr"), 422)


def test_catalogue_filters_search_and_pages(client, world):
    everything = client.get(f"{MODULES}?per_page=100").get_json()
    assert everything["meta"]["total"] == 17
    assert everything["items"][0]["slug"] == "safety-standing-and-fes"  # safety comes first
    safety = client.get(f"{MODULES}?tag=safety").get_json()["items"]
    assert {m["slug"] for m in safety} == {"safety-standing-and-fes", "bones-at-risk-and-fracture-signs",
                                           "medicine-safety", "after-a-fracture", "falls-and-safe-transfers"}
    found = client.get(f"{MODULES}?q=romosozumab").get_json()["items"]
    assert [m["slug"] for m in found] == ["medicines", "calcium-and-vitamin-d", "medicine-safety"]
    found_zh = client.get(f"{MODULES}?q=罗莫佐单抗&lang=en").get_json()["items"]
    assert [m["slug"] for m in found_zh] == ["medicines", "calcium-and-vitamin-d", "medicine-safety"] and found_zh[0]["language"] == "en"
    page = client.get(f"{MODULES}?per_page=5&page=4").get_json()
    assert len(page["items"]) == 2 and page["meta"]["next_page"] is None


def test_module_read_has_sections_references_notice_and_no_answers(client, world):
    module = client.get(f"{MODULES}/safety-standing-and-fes?lang=en").get_json()
    assert module["references"][0]["citation"] and len(module["sections"]) >= 3
    assert "not personal medical advice" in module["notice"]
    assert module["quiz"] and all("answer" not in q and "explanation" not in q for q in module["quiz"])
    zh = client.get(f"{MODULES}/safety-standing-and-fes", headers={"Accept-Language": "zh-CN"})
    assert zh.headers["Content-Language"] == "zh-CN" and "医疗建议" in zh.get_json()["notice"]
    assert_problem(client.get(f"{MODULES}/no-such-module"), 404)


def test_missing_language_falls_back_to_the_other(client, world):
    module = _module("vibration")
    db.session.delete(next(c for c in module.contents if c.language == "zh-CN"))
    db.session.commit()
    response = client.get(f"{MODULES}/vibration?lang=zh-CN")
    assert response.status_code == 200 and response.headers["Content-Language"] == "en"


def test_catalogue_etag(client, world):
    first = client.get(f"{MODULES}?lang=en&per_page=5")
    etag = first.headers["ETag"]
    assert client.get(f"{MODULES}?lang=en&per_page=5", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"{MODULES}?lang=zh-CN&per_page=5", headers={"If-None-Match": etag}).status_code == 200
    assert client.get(f"{MODULES}?lang=en&per_page=6", headers={"If-None-Match": etag}).status_code == 200
    _module(first.get_json()["items"][0]["slug"]).content_version += 1
    db.session.commit()
    assert client.get(f"{MODULES}?lang=en&per_page=5", headers={"If-None-Match": etag}).status_code == 200


def test_etag_and_last_modified(client, world):
    first = client.get(f"{MODULES}/keep-going?lang=en")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and "W/" not in etag and first.headers["Last-Modified"]
    cached = client.get(f"{MODULES}/keep-going?lang=en", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""
    other_language = client.get(f"{MODULES}/keep-going?lang=zh-CN", headers={"If-None-Match": etag})
    assert other_language.status_code == 200 and other_language.headers["ETag"] != etag
    _module("keep-going").content_version += 1
    db.session.commit()
    changed = client.get(f"{MODULES}/keep-going?lang=en", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


# --- per patient --------------------------------------------------------------------------

def patient_education(actor, ref="me"):
    return actor.get(f"/api/v1/patients/{ref}/education").get_json()


def test_progress_by_patient_and_caregiver(world):
    url = "/api/v1/patients/me/education/modules"
    opened = world.patient_a.put(f"{url}/dxa-scans/progress", json={"status": "opened"})
    assert opened.status_code == 200 and opened.get_json()["status"] == "opened"
    assert world.caregiver_a.put(f"{url}/keep-going/progress", json={"status": "completed"}).status_code == 200
    again = world.patient_a.put(f"{url}/dxa-scans/progress", json={"status": "opened"})
    assert again.get_json()["opened_at"] == opened.get_json()["opened_at"]
    overview = patient_education(world.patient_a)
    # The safety module was recommended when patient A's standing plan was assigned.
    assert overview["summary"] == {"modules": 17, "opened": 2, "completed": 1, "recommended_not_completed": 1}
    assert overview["language"] == "zh-CN"
    statuses = {i["slug"]: i["status"] for i in overview["items"]}
    assert statuses["dxa-scans"] == "opened" and statuses["keep-going"] == "completed"
    assert_problem(world.patient_a.put(f"{url}/nope/progress", json={"status": "opened"}), 404)
    assert_problem(world.patient_a.put(f"{url}/dxa-scans/progress", json={"status": "skimmed"}), 422)
    coordinator_view = patient_education(world.coord_a, world.a_id)
    assert {i["slug"]: i["status"] for i in coordinator_view["items"]}["keep-going"] == "completed"


def test_new_content_version_is_flagged_as_updated_since_read(world):
    world.patient_a.put("/api/v1/patients/me/education/modules/dxa-scans/progress", json={"status": "completed"})
    _module("dxa-scans").content_version += 1
    db.session.commit()
    item = next(i for i in patient_education(world.patient_a)["items"] if i["slug"] == "dxa-scans")
    assert item["updated_since_read"] is True and item["status"] == "completed"


def test_recommended_unread_modules_come_first(world):
    url = f"/api/v1/patients/{world.a_id}/education/recommendations"
    assert world.coord_a.post(url, json={"slug": "medicines", "note": "before your infusion"}).status_code == 201
    assert world.coord_a.post(url, json={"slug": "fes-cycling"}).status_code == 201
    assert world.coord_a.post(url, json={"slug": "fes-cycling"}).status_code == 201  # idempotent
    items = patient_education(world.patient_a)["items"]
    # Oldest recommendation first: the safety module came with patient A's standing plan.
    assert [i["slug"] for i in items[:3]] == ["safety-standing-and-fes", "medicines", "fes-cycling"]
    assert items[1]["recommendation_note"] == "before your infusion"
    world.patient_a.put("/api/v1/patients/me/education/modules/medicines/progress", json={"status": "completed"})
    items = patient_education(world.patient_a)["items"]
    assert [i["slug"] for i in items[:2]] == ["safety-standing-and-fes", "fes-cycling"]
    assert patient_education(world.patient_a)["summary"]["recommended_not_completed"] == 2
    assert world.coord_a.delete(f"{url}/fes-cycling").status_code == 204
    assert_problem(world.coord_a.delete(f"{url}/fes-cycling"), 404)
    assert_problem(world.patient_a.post("/api/v1/patients/me/education/recommendations",
                                        json={"slug": "medicines"}), 403)
    assert_problem(world.coord_a.post(url, json={"slug": "no-such"}), 404)


def test_recommending_a_module_again_answers_the_note_the_patient_sees(world):
    """A second recommendation without a note keeps the stored one, and says so."""
    url = f"/api/v1/patients/{world.a_id}/education/recommendations"
    note = "Read this before Monday's call please"
    first = world.coord_a.post(url, json={"slug": "keep-going", "note": note})
    assert first.status_code == 201, first.get_json()

    again = world.coord_a.post(url, json={"slug": "keep-going"})

    [shown] = [i["recommendation_note"] for i in patient_education(world.patient_a)["items"] if i["slug"] == "keep-going"]
    assert again.status_code == 201, again.get_json()
    assert again.get_json() == {"slug": "keep-going", "note": note} and shown == note


def test_a_repeated_recommendation_replaces_its_note_or_clears_it_with_null(world):
    url = f"/api/v1/patients/{world.a_id}/education/recommendations"

    def shown():
        return next(i["recommendation_note"] for i in patient_education(world.patient_a)["items"]
                    if i["slug"] == "keep-going")

    world.coord_a.post(url, json={"slug": "keep-going", "note": "first"})
    replaced = world.coord_a.post(url, json={"slug": "keep-going", "note": "second"})
    assert (replaced.status_code, replaced.get_json()["note"], shown()) == (201, "second", "second")
    cleared = world.coord_a.post(url, json={"slug": "keep-going", "note": None})
    assert (cleared.status_code, cleared.get_json()["note"], shown()) == (201, None, None)
    kept = world.coord_a.post(url, json={"slug": "keep-going"})
    assert (kept.get_json()["note"], shown()) == (None, None)


@pytest.mark.committing
def test_one_withdrawal_answers_204_once_when_sent_several_times_at_once(app):
    world = World(app.test_client()).build()
    url = f"/api/v1/patients/{world.a_id}/education/recommendations"
    assert world.coord_a.post(url, json={"slug": "fes-cycling"}).status_code == 201
    statuses = at_once([lambda: app.test_client().delete(f"{url}/fes-cycling", headers=world.coord_a.headers)
                        .status_code] * 4)
    assert sorted(statuses) == [204, 404, 404, 404], statuses


def test_quiz_is_scored_with_explanations_in_the_patient_language(world):
    url = "/api/v1/patients/me/education/modules/safety-standing-and-fes/quiz-attempts"
    result = world.patient_a.post(url, json={"answers": {"q1": 1, "q2": 0, "q3": 0, "q4": 1}})
    assert result.status_code == 201
    body = result.get_json()
    assert (body["score"], body["total"], body["language"]) == (3, 4, "zh-CN")
    wrong = next(r for r in body["results"] if r["id"] == "q3")
    assert wrong["correct"] is False and wrong["correct_option"] == 1 and "先测血压" in wrong["explanation"]
    world.caregiver_a.post(url + "?lang=en", json={"answers": {"q1": 1, "q2": 0, "q3": 1, "q4": 1}})
    attempts = world.coord_a.get(f"/api/v1/patients/{world.a_id}/education/modules/safety-standing-and-fes/quiz-attempts").get_json()["items"]
    assert [a["score"] for a in attempts] == [4, 3]


@pytest.mark.parametrize("answers,field", [
    ({"q1": 1, "q2": 0, "q4": 1}, "q3"),
    ({"q1": 1, "q2": 0, "q3": 1, "q4": 1, "q9": 0}, "q9"),
    ({"q1": 7, "q2": 0, "q3": 1, "q4": 1}, "q1"),
])
def test_quiz_answers_are_validated(world, answers, field):
    url = "/api/v1/patients/me/education/modules/safety-standing-and-fes/quiz-attempts"
    problem = assert_problem(world.patient_a.post(url, json={"answers": answers}), 422)
    assert field in problem["errors"]["answers"]


def test_module_without_quiz(world):
    url = "/api/v1/patients/me/education/modules/ultrasound/quiz-attempts"
    assert_problem(world.patient_a.post(url, json={"answers": {"q1": 0}}), 404)


def test_contents_are_complete_in_the_database(world):
    rows = db.session.execute(select(EducationContent.language, EducationContent.reading_minutes)).all()
    assert len(rows) == 34 and all(minutes > 0 for _, minutes in rows)
