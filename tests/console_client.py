"""Driving the console as a browser would, through the test client: a cookie of its own, the
CSRF token read off the page, form posts."""
import re

from tests.factories import PASSWORD

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'type="hidden" name="csrf_token" value="([^"]+)"|'
                   r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no csrf_token on the page"
    return next(group for group in found.groups() if group)


class Console:
    """One browser: its own test client (cookie jar)."""

    def __init__(self, app):
        self.client = app.test_client()

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def token(self, page="/console/login") -> str:
        return csrf_token(self.client.get(page).get_data(as_text=True))

    def post(self, url, data=None, page=None, **kw):
        """A form post with the CSRF token read from page (default: the post's own URL's page)."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(page or "/console/"))
        return self.client.post(url, data=data, **kw)

    def sign_in(self, email, password=PASSWORD, expect=302):
        response = self.client.post("/console/login", data={
            "email": email, "password": password, "csrf_token": self.token()})
        assert response.status_code == expect, response.get_data(as_text=True)[:2000]
        return response


def signed_in(app, actor) -> Console:
    """A console signed in as a tests.factories.Actor (staff)."""
    console = Console(app)
    console.sign_in(actor.email, actor.password)
    return console
