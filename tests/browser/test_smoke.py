"""The harness itself: the live server answers a real Chromium, and the interactive docs
(served by the app, no CDN) render the spec."""
import json

import pytest

pytestmark = pytest.mark.committing


def test_chromium_reaches_the_live_server(browser):
    browser.open("/healthz")
    assert json.loads(browser.find("pre").text) == {"status": "ok"}
    browser.open("/docs")
    assert "StandStrong" in browser.find("#swagger-ui-container .info .title").text
    assert browser.find_all("#swagger-ui-container .opblock")  # the operations, from /openapi.json
