"""Conditional requests: 304 for a current cached copy (weak comparison, If-Modified-Since);
If-Match on the changes two coordinators may make at once (428 without, 412 when stale)."""
import threading
from datetime import timedelta

import pytest
from werkzeug.http import http_date, parse_date

from tests.test_errors import assert_problem

MODULE = "/api/v1/education/modules/keep-going?lang=en"


def test_a_weak_etag_of_the_current_copy_gets_304(world):
    first = world.patient_a.get(MODULE)
    strong = first.headers["ETag"]
    assert strong.startswith('"')
    for sent in (strong, f"W/{strong}", f'"other", W/{strong}', "*"):
        cached = world.patient_a.get(MODULE, headers={"If-None-Match": sent})
        assert cached.status_code == 304 and cached.data == b"", sent
        assert cached.headers["ETag"] == strong
    assert world.patient_a.get(MODULE, headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_if_modified_since_is_honoured(world):
    first = world.patient_a.get(MODULE)
    modified = parse_date(first.headers["Last-Modified"])
    assert world.patient_a.get(MODULE, headers={"If-Modified-Since": http_date(modified)}).status_code == 304
    later = http_date(modified + timedelta(days=1))
    assert world.patient_a.get(MODULE, headers={"If-Modified-Since": later}).status_code == 304
    earlier = http_date(modified - timedelta(seconds=1))
    assert world.patient_a.get(MODULE, headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides when both are sent (RFC 9110 13.2.2).
    both = {"If-Modified-Since": later, "If-None-Match": '"other"'}
    assert world.patient_a.get(MODULE, headers=both).status_code == 200


def test_the_catalogue_and_a_profile_answer_304_on_a_weak_etag_too(world):
    for actor, url in ((world.patient_a, "/api/v1/education/modules?lang=en&per_page=3"),
                       (world.coord_a, f"/api/v1/patients/{world.a_id}"),
                       (world.coord_a, f"/api/v1/patients/{world.a_id}/plans/{world.plan_a['id']}")):
        etag = actor.get(url).headers["ETag"]
        assert actor.get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304, url


def test_the_catalogues_early_304_answers_what_make_conditional_answers(world):
    url = "/api/v1/education/modules?lang=en&per_page=3"
    etag = world.patient_a.get(url).headers["ETag"]
    early = world.patient_a.get(url, headers={"If-None-Match": etag})
    # With Range, the view takes werkzeug's make_conditional path (the answer is the same).
    full = world.patient_a.get(url, headers={"If-None-Match": etag, "Range": "bytes=0-1"})
    assert early.status_code == full.status_code == 304 and early.data == full.data == b""
    varying = {"date", "x-request-id"}
    assert ({(k, v) for k, v in early.headers if k.lower() not in varying}
            == {(k, v) for k, v in full.headers if k.lower() not in varying})
    assert {k.lower() for k, _ in early.headers} >= varying


def test_patient_patch_needs_the_current_etag(world):
    url = f"/api/v1/patients/{world.a_id}"
    read = world.coord_a.get(url)
    etag = read.headers["ETag"]
    assert_problem(world.coord_a.patch(url, json={"ais_grade": "B"}), 428)
    assert_problem(world.coord_a.patch(url, json={"ais_grade": "B"}, headers={"If-Match": '"stale"'}), 412)
    assert_problem(world.coord_a.patch(url, json={"ais_grade": "B"}, headers={"If-Match": f"W/{etag}"}), 412)
    changed = world.coord_a.patch(url, json={"ais_grade": "B"}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["ais_grade"] == "B"
    assert changed.headers["ETag"] != etag and changed.headers["ETag"] == world.coord_a.get(url).headers["ETag"]
    # A second coordinator who read the profile before the change cannot overwrite it.
    stale = world.coord_a.patch(url, json={"ais_grade": "C"}, headers={"If-Match": etag})
    assert_problem(stale, 412)
    assert world.coord_a.get(url).get_json()["ais_grade"] == "B"
    again = world.coord_a.patch(url, json={"ais_grade": "C"}, headers={"If-Match": changed.headers["ETag"]})
    assert again.status_code == 200


def test_the_policy_answers_before_the_precondition(world):
    url = f"/api/v1/patients/{world.a_id}"
    assert_problem(world.coord_b.patch(url, json={"ais_grade": "B"}), 404)
    plan = f"{url}/plans/{world.plan_a['id']}"
    assert_problem(world.coord_b.post(f"{plan}/pause", json={"reason": "hospital stay"}), 404)
    assert_problem(world.caregiver_a.post(f"{plan}/pause", json={"reason": "hospital stay"}), 403)


def test_plan_changes_need_the_current_etag(world):
    plan = f"/api/v1/patients/{world.a_id}/plans/{world.plan_a['id']}"
    etag = world.coord_a.get(plan).headers["ETag"]
    for action, body in (("pause", {"reason": "hospital stay"}), ("resume", {}), ("end", {"reason": "done"}),
                         ("versions", {"items": [{"exercise": "pressure-relief", "minutes": 2,
                                                  "days_of_week": ["mon"]}]})):
        assert_problem(world.coord_a.post(f"{plan}/{action}", json=body), 428)
        assert_problem(world.coord_a.post(f"{plan}/{action}", json=body, headers={"If-Match": '"old"'}), 412)
    paused = world.coord_a.post(f"{plan}/pause", json={"reason": "hospital stay"}, headers={"If-Match": etag})
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    assert paused.headers["ETag"] != etag
    # Any read of this version gives the same ETag, whatever ?on= asked.
    assert world.coord_a.get(f"{plan}?on=2099-01-01").headers["ETag"] == paused.headers["ETag"]
    # The answer's ETag is the plan's new version: it is what the next change sends.
    assert_problem(world.coord_a.post(f"{plan}/resume", json={}, headers={"If-Match": etag}), 412)
    resumed = world.coord_a.post(f"{plan}/resume", json={}, headers={"If-Match": paused.headers["ETag"]})
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "active"
    assert resumed.headers["ETag"] == world.coord_a.get(plan).headers["ETag"]


def test_a_new_plan_answers_with_its_etag(world):
    created = world.coord_a.post(f"/api/v1/patients/{world.a_id}/plans", json={
        "items": [{"exercise": "pressure-relief", "minutes": 2, "days_of_week": ["mon"]}]})
    assert created.status_code == 201
    url = f"/api/v1/patients/{world.a_id}/plans/{created.get_json()['id']}"
    assert created.headers["ETag"] == world.coord_a.get(url).headers["ETag"]
    ended = world.coord_a.post(f"{url}/end", json={"reason": "done"}, headers={"If-Match": created.headers["ETag"]})
    assert ended.status_code == 200


@pytest.mark.committing
def test_two_changes_at_once_from_the_same_version_one_wins_the_other_gets_412(app):
    from tests.factories import World

    world = World(app.test_client()).build()
    url = f"/api/v1/patients/{world.a_id}"
    for target, bodies in ((url, [("patch", url, {"ais_grade": "B"}), ("patch", url, {"ais_grade": "C"})]),
                           (f"{url}/plans/{world.plan_a['id']}",
                            [("post", f"{url}/plans/{world.plan_a['id']}/pause", {"reason": "hospital stay"}),
                             ("post", f"{url}/plans/{world.plan_a['id']}/end", {"reason": "moved away"})])):
        etag = world.coord_a.get(target).headers["ETag"]
        barrier = threading.Barrier(2)
        statuses = []

        def send(method, path, body):
            client = app.test_client()
            barrier.wait()
            response = getattr(client, method)(path, json=body, headers={**world.coord_a.headers, "If-Match": etag})
            statuses.append(response.status_code)

        threads = [threading.Thread(target=send, args=args) for args in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 412], (target, statuses)


READS = ("/api/v1/education/modules?lang=en&per_page=3", MODULE)


def _conditional_reads(world):
    return [(world.patient_a, url) for url in READS] + [
        (world.coord_a, f"/api/v1/patients/{world.a_id}"),
        (world.coord_a, f"/api/v1/patients/{world.a_id}/plans/{world.plan_a['id']}")]


def test_a_read_with_a_stale_if_match_answers_412_problem_json(world):
    """RFC 9110 13.1.1: If-Match is evaluated on a GET too; werkzeug answered its own 412 with
    the whole body as application/json (and, for `*`, to a resource that exists)."""
    for actor, url in _conditional_reads(world):
        etag = actor.get(url).headers["ETag"]
        for sent in ('"other"', f"W/{etag}", "not an etag,,,"):
            refused = actor.get(url, headers={"If-Match": sent})
            assert_problem(refused, 412)
            assert b"items" not in refused.data and b"display_name" not in refused.data, url
        for sent in (etag, "*", f'"other", {etag}'):
            answered = actor.get(url, headers={"If-Match": sent})
            assert answered.status_code == 200 and answered.headers["ETag"] == etag, (url, sent)
        # If-Match passes, then If-None-Match decides (RFC 9110 13.2.2): the copy is current.
        assert actor.get(url, headers={"If-Match": etag, "If-None-Match": etag}).status_code == 304, url
        # If-Match is evaluated first: a stale one wins over a current cached copy.
        assert_problem(actor.get(url, headers={"If-Match": '"other"', "If-None-Match": etag}), 412)


def test_a_read_with_if_unmodified_since_older_than_its_last_modified_answers_412(world):
    for actor, url in _conditional_reads(world)[:3]:  # those that send Last-Modified
        modified = parse_date(actor.get(url).headers["Last-Modified"])
        assert_problem(actor.get(url, headers={"If-Unmodified-Since": http_date(modified - timedelta(days=1))}), 412)
        for sent in (http_date(modified), http_date(modified + timedelta(days=1)), "not a date"):
            assert actor.get(url, headers={"If-Unmodified-Since": sent}).status_code == 200, (url, sent)
        # If-Match, when sent, takes the place of If-Unmodified-Since (RFC 9110 13.2.2).
        etag = actor.get(url).headers["ETag"]
        stale_date = http_date(modified - timedelta(days=1))
        assert actor.get(url, headers={"If-Match": etag, "If-Unmodified-Since": stale_date}).status_code == 200


def test_the_reads_declare_their_412_and_preconditions(app):
    from app.extensions import api

    spec = api.spec.to_dict()
    for path in ("/api/v1/education/modules", "/api/v1/education/modules/{slug}", "/api/v1/patients/{patient_id}",
                 "/api/v1/patients/{patient_id}/plans/{plan_id}"):
        get = spec["paths"][path]["get"]
        assert "412" in get["responses"], path
        headers = {p["name"] for p in get["parameters"] if p["in"] == "header"}
        assert {"If-Match", "If-None-Match"} <= headers, path
