"""Seed data kept per process (app/common/seed_cache.py): a `flask seed` run in another process
reaches this process's cached copies on their next read, with no message between them."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.common.seed_cache import SeedCache
from app.education.seed import EDUCATION_DIR
from app.exercises.seed import EXERCISES_FILE
from app.exercises.service import LIBRARY, exercises_by_id
from app.extensions import db
from tests.factories import World

ROOT = Path(__file__).resolve().parent.parent
RENAMED = "Renamed by another seed run"
RESEED = """
import sys
from pathlib import Path
from app import create_app
from app.education.seed import load_education
from app.exercises.seed import load_exercises

with create_app().app_context():
    print(load_exercises(Path(sys.argv[1])))
    print(load_education(Path(sys.argv[2])))
"""


def _changed_seed_files(tmp_path, exercise_slug: str) -> tuple[Path, Path]:
    entries = yaml.safe_load(EXERCISES_FILE.read_text(encoding="utf-8"))
    for entry in entries:
        if entry["slug"] == exercise_slug:
            entry["en"]["name"] = RENAMED
    exercises = tmp_path / "exercises.yaml"
    exercises.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    education = tmp_path / "education"
    shutil.copytree(EDUCATION_DIR, education)
    module = education / "keep-going.en.md"
    text = module.read_text(encoding="utf-8")
    module.write_text(text.replace('title: "Keep going:', f'title: "{RENAMED}:', 1), encoding="utf-8")
    return exercises, education


def _reseed_in_another_process(database_url, exercises: Path, education: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    env.update(DATABASE_URL=database_url, LOG_LEVEL="WARNING")
    done = subprocess.run([sys.executable, "-c", RESEED, str(exercises), str(education)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.committing
def test_a_seed_run_in_another_process_reaches_the_agenda_and_the_catalogue_here(app, database_url, tmp_path):
    world = World(app.test_client()).build()
    patient = world.patient_a
    agenda = patient.get("/api/v1/patients/me/agenda?lang=en").get_json()
    assert agenda["items"]
    slug = agenda["items"][0]["exercise"]["slug"]
    assert agenda["items"][0]["exercise"]["name"] != RENAMED
    catalogue_url = "/api/v1/education/modules?lang=en&per_page=100"
    before = patient.get(catalogue_url)
    etag = before.headers["ETag"]
    assert patient.get(catalogue_url, headers={"If-None-Match": etag}).status_code == 304  # cached here now

    summary = _reseed_in_another_process(database_url, *_changed_seed_files(tmp_path, slug))
    assert "1 updated" in summary

    names = {i["exercise"]["slug"]: i["exercise"]["name"]
             for i in patient.get("/api/v1/patients/me/agenda?lang=en").get_json()["items"]}
    assert names[slug] == RENAMED
    after = patient.get(catalogue_url, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    titles = {m["slug"]: m["title"] for m in after.get_json()["items"]}
    assert titles["keep-going"].startswith(RENAMED)


def test_the_library_is_plain_data_that_outlives_the_session(app_ctx, world):
    exercise_id = next(iter(LIBRARY.get()))
    first = exercises_by_id([exercise_id])[exercise_id]
    db.session.commit()
    db.session.remove()
    again = exercises_by_id([exercise_id, "not an id"])
    assert again == {exercise_id: first} and again[exercise_id] is first  # no rebuild: the rows did not change
    assert first.text("en")["name"] and first.slug


def test_a_cache_rebuilds_when_its_fingerprint_changes_and_only_then(app_ctx):
    from sqlalchemy import literal, select

    answer, built = [1], []
    cache = SeedCache(lambda: select(literal(1)), lambda key: built.append(key) or (key, answer[0]))
    cache.fingerprint = lambda: (answer[0],)
    assert cache.get("en") == ("en", 1) and cache.get("en") == ("en", 1) and cache.get("zh-CN")
    assert built == ["en", "zh-CN"]
    answer[0] = 2
    assert cache.get("en") == ("en", 2) and built == ["en", "zh-CN", "en"]


def test_the_catalogue_page_serialised_once_is_what_the_schema_dumps(client, world):
    from app.common.pagination import page_of
    from app.education import service
    from app.education.schemas import ModuleSummarySchema

    url = "/api/v1/education/modules?lang=zh-CN&per_page=5&page=2"
    first, second = client.get(url), client.get(url)
    assert first.status_code == 200 and first.data == second.data
    with client.application.test_request_context(url):
        expected = page_of(ModuleSummarySchema)().dump(service.catalogue_page({"page": 2, "per_page": 5}, "zh-CN"))
    assert first.get_json() == expected and expected["meta"]["next_url"]
