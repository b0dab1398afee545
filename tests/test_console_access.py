"""The console's sign-in, its cookie, CSRF and who sees which page (issue 15)."""
import uuid

from sqlalchemy import select

from app.auth.models import AuthSession, User
from app.extensions import db
from tests.console_client import Console, csrf_token, signed_in
from tests.factories import PASSWORD, bearer


def test_pages_need_a_sign_in_and_come_back_after_it(app, world):
    console = Console(app)
    r = console.get(f"/console/patients/{world.a_id}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login?next=")
    page = console.get(r.headers["Location"])
    token = csrf_token(page.get_data(as_text=True))
    r = console.client.post(r.headers["Location"], data={"email": world.coord_a.email, "password": PASSWORD,
                                                         "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == f"/console/patients/{world.a_id}"
    assert console.get(r.headers["Location"]).status_code == 200


def test_the_cookie_is_the_consoles_own(app, world):
    console = Console(app)
    r = console.sign_in(world.coord_a.email)
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("standstrong_console="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie


def test_the_cookie_is_secure_when_configured(app, world):
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        r = Console(app).sign_in(world.coord_a.email)
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    assert "Secure" in r.headers["Set-Cookie"]


def test_a_form_post_without_its_csrf_token_is_refused(app, world):
    console = signed_in(app, world.coord_a)
    r = console.client.post("/console/language", data={"language": "zh-CN"})
    assert r.status_code == 400 and "text/html" in r.content_type
    assert "expired" in r.get_data(as_text=True)
    r = console.client.post("/console/login", data={"email": world.coord_a.email, "password": PASSWORD})
    assert r.status_code == 400
    r = console.client.post("/console/language", data={"language": "zh-CN", "csrf_token": "forged"})
    assert r.status_code == 400


def test_the_console_cookie_cannot_call_the_api(app, world):
    console = signed_in(app, world.coord_a)
    cookie = console.client.get_cookie("standstrong_console", path="/console")
    assert cookie is not None
    api = app.test_client()
    api.set_cookie("standstrong_console", cookie.value, path="/")
    r = api.get("/api/v1/caseload")
    assert r.status_code == 401 and r.content_type == "application/problem+json"


def test_an_api_token_cannot_open_the_console(app, world):
    r = app.test_client().get("/console/", headers=world.coord_a.headers)
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login")
    r = app.test_client().get(f"/console/patients/{world.a_id}", headers=bearer(world.coord_a.tokens["access_token"]))
    assert r.status_code == 302


def test_wrong_passwords_count_towards_the_apis_lockout(app, world):
    console = Console(app)
    for _ in range(app.config.get("LOGIN_MAX_FAILURES", 5)):
        r = console.sign_in(world.coord_b.email, "wrong password", expect=401)
        assert "E-mail or password is wrong" in r.get_data(as_text=True)
    for _ in range(10):
        r = console.client.post("/console/login", data={"email": world.coord_b.email, "password": PASSWORD,
                                                       "csrf_token": console.token()})
        if r.status_code == 423:
            break
    assert r.status_code == 423 and "locked" in r.get_data(as_text=True)
    # the API sees the same lock
    assert app.test_client().post("/api/v1/auth/login", json={
        "email": world.coord_b.email, "password": PASSWORD}).status_code == 423


def test_patients_and_caregivers_use_the_app(app, world):
    for actor in (world.patient_a, world.caregiver_a):
        r = Console(app).sign_in(actor.email, expect=403)
        assert "use the app" in r.get_data(as_text=True)


def test_an_unrelated_coordinator_gets_404(app, world):
    console = signed_in(app, world.coord_b)
    r = console.get(f"/console/patients/{world.a_id}")
    assert r.status_code == 404 and "text/html" in r.content_type
    assert console.get(f"/console/patients/{uuid.uuid4()}").status_code == 404
    assert signed_in(app, world.coord_a).get(f"/console/patients/{world.a_id}").status_code == 200


def test_sign_out_revokes_the_login(app, world):
    console = signed_in(app, world.coord_a)
    assert console.get("/console/").status_code == 200
    r = console.post("/console/logout")
    assert r.status_code == 302 and r.headers["Location"] == "/console/login"
    assert console.get("/console/").status_code == 302
    with app.app_context():
        logins = db.session.scalars(select(AuthSession).where(
            AuthSession.user_id == uuid.UUID(world.coord_a.id), AuthSession.revoked_reason == "logout")).all()
    assert len(logins) == 1


def test_signing_in_again_signs_the_old_login_out(app, world):
    console = signed_in(app, world.coord_a)
    old = console.client.get_cookie("standstrong_console", path="/console").value
    copy = Console(app)  # the old cookie, kept elsewhere (another tab's copy, a stolen value)
    copy.client.set_cookie("standstrong_console", old, path="/console")
    assert copy.get("/console/").status_code == 200

    def sign_in_again(email, password=PASSWORD):
        return console.client.post("/console/login", data={  # while signed in: the token of the page shown
            "email": email, "password": password, "csrf_token": console.token("/console/")})

    assert sign_in_again(world.coord_a.email, "wrong password").status_code == 401
    assert copy.get("/console/").status_code == 200  # a failed sign-in ends nothing
    assert sign_in_again(world.coord_a.email).status_code == 302
    assert console.client.get_cookie("standstrong_console", path="/console").value != old
    assert console.get("/console/").status_code == 200
    r = copy.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login")  # the old login is over
    with app.app_context():
        ended = db.session.scalars(select(AuthSession).where(
            AuthSession.user_id == uuid.UUID(world.coord_a.id),
            AuthSession.revoked_reason == "console_signed_in_again")).all()
    assert len(ended) == 1

    newer = console.client.get_cookie("standstrong_console", path="/console").value
    assert sign_in_again(world.coord_b.email).status_code == 302  # another account in the same browser
    copy.client.set_cookie("standstrong_console", newer, path="/console")
    assert copy.get("/console/").status_code == 302


def test_a_revoked_or_deactivated_account_is_signed_out_at_once(app, world):
    console = signed_in(app, world.coord_a)
    # patient A keeps an active coordinator (the only one's account cannot be deactivated)
    assert world.coord_a.post(f"/api/v1/patients/{world.a_id}/care-team",
                              json={"coordinator_id": world.coord_b.id}).status_code == 201
    r = world.admin.patch(f"/api/v1/users/{world.coord_a.id}", json={"is_active": False})
    assert r.status_code == 200, r.get_json()
    assert console.get("/console/").status_code == 302


def test_next_never_leaves_the_console(app, world):
    for target in ("https://evil.example/", "//evil.example/", "/api/v1/me"):
        console = Console(app)
        r = console.client.post(f"/console/login?next={target}", data={
            "email": world.coord_a.email, "password": PASSWORD, "csrf_token": console.token()})
        assert r.headers["Location"] == "/console/", target


def test_the_language_is_the_accounts_then_the_browsers(app, world):
    console = signed_in(app, world.coord_a)
    page = console.get("/console/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "患者列表" in page
    page = console.get("/console/").get_data(as_text=True)
    assert '<html lang="en">' in page and "Caseload" in page
    r = console.post("/console/language", data={"language": "zh-CN", "next": "/console/"})
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    page = console.get("/console/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "患者列表" in page
    with app.app_context():
        assert db.session.get(User, uuid.UUID(world.coord_a.id)).language == "zh-CN"  # the e-mails' too


def test_an_admin_may_sign_in(app, world):
    console = signed_in(app, world.admin)
    assert console.get("/console/login").status_code == 302


def test_pages_load_nothing_from_elsewhere_and_run_no_script(app, world):
    page = signed_in(app, world.coord_a).get("/console/")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "form-action 'self'" in policy
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True).replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a fetch
    assert "<script" not in html and "http://" not in html and "https://" not in html
    css = app.test_client().get("/console/static/console.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_the_api_and_the_console_share_one_sign_in_budget(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT", "4 per minute")
    console, api = Console(app), app.test_client()
    body = {"email": world.coord_b.email, "password": "wrong-wrong-wrong"}
    assert [api.post("/api/v1/auth/login", json=body).status_code for _ in range(2)] == [401, 401]
    for _ in range(2):
        console.sign_in(world.coord_b.email, "wrong-wrong-wrong", expect=401)
    r = console.client.post("/console/login", data={**body, "csrf_token": console.token()})
    assert r.status_code == 429 and "text/html" in r.content_type
    assert api.post("/api/v1/auth/login", json=body).status_code == 429
    # another address still has its own budget, and the page itself is never limited
    assert console.get("/console/login").status_code == 200
    other = {"email": world.coord_a.email, "password": "wrong-wrong-wrong"}
    assert api.post("/api/v1/auth/login", json=other).status_code == 401


def test_the_care_team_check_is_read_once_per_transaction_and_again_after_it(app, world):
    """The policy keeps the care-team row it found until the transaction ends (a page checks it
    once, not once per service); after a commit a removed member is refused, never a 500."""
    import pytest
    from sqlalchemy import delete

    from app.access.models import CareTeamMember
    from app.access.policy import READ, patient_for
    from app.errors import ApiError
    from tests.statements import statements_on

    with app.test_request_context("/console/"):
        coordinator = db.session.get(User, uuid.UUID(world.coord_a.id))
        patient_id = uuid.UUID(world.a_id)
        patient = patient_for(coordinator, patient_id, READ)  # the page holds the patient it shows
        with statements_on(db.engine) as counted:
            patient_for(coordinator, patient_id, READ)
        assert counted.n == 0 and patient is not None
        db.session.connection().execute(delete(CareTeamMember.__table__).where(  # not through the ORM
            CareTeamMember.__table__.c.patient_id == patient_id,
            CareTeamMember.__table__.c.coordinator_id == coordinator.id))
        db.session.commit()
        with pytest.raises(ApiError) as refused:
            patient_for(coordinator, patient_id, READ)
        assert refused.value.code == 404
        db.session.rollback()
