"""A coordinator's morning in the console, in a real headless Chromium: sign in, the caseload
sorted by risk, the urgent patient's page with its charts, a flag acknowledged then resolved, a
contact logged, the pages in English and in Chinese (screenshots for the README), sign out; and a
second coordinator, not on that patient's care team, who gets 404 for the same page."""
import base64
import os
import re
import tempfile
import uuid
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import Select

from tests.browser.caseload_data import ConsoleWorld
from tests.browser.conftest import WINDOW
from tests.factories import PASSWORD
from tests.log_capture import SUITE_LOG

pytestmark = pytest.mark.committing

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MAX_HEIGHT = 6000
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def save_screenshot(browser, name, down_to=None):
    """The page 1280 px wide, from the top down to the bottom of the element down_to (the whole
    page without it; at most MAX_HEIGHT). Written next to its final name, then moved: CI's SQLite
    and PostgreSQL runs write the same files at about the same time."""
    driver = browser.driver
    height = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
    if down_to:
        height = driver.execute_script("return arguments[0].getBoundingClientRect().bottom + window.scrollY + 16",
                                       browser.find(down_to))
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": WINDOW[0], "height": min(height, MAX_HEIGHT), "scale": 1}})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=SCREENSHOTS, prefix=f".{name}.", suffix=".png")
    with os.fdopen(handle, "wb") as file:
        file.write(base64.b64decode(shot["data"]))
    os.chmod(temporary, 0o644)
    os.replace(temporary, SCREENSHOTS / f"{name}.png")


def sign_in(browser, actor):
    browser.open("/console/login")
    form = browser.find("form input[name='email']").find_element("xpath", "ancestor::form")
    assert browser.find("input[name='csrf_token'][type='hidden']", within=form).get_attribute("value")
    browser.find("input[name='email']", within=form).send_keys(actor.email)
    browser.find("input[name='password']", within=form).send_keys(PASSWORD)
    browser.click_and_wait(browser.find("[type='submit']", within=form))
    assert browser.path == "/console/", browser.path


def status_of_page(browser) -> int:
    """The HTTP status of the page the browser shows (Navigation Timing; the console's CSP allows no fetch)."""
    return browser.driver.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus")


def caseload_ids(browser):
    browser.find("table#caseload")
    return [row.get_attribute("data-patient-id") for row in browser.find_all("table#caseload tr[data-patient-id]")]


def flag_article(browser, flag_id):
    return browser.find(f"#flags article.flag[data-flag-id='{flag_id}']")


def form_ending(browser, within, action_suffix):
    forms = [f for f in browser.find_all("form", within=within) if f.get_attribute("action").endswith(action_suffix)]
    assert len(forms) == 1, f"{len(forms)} forms posting to ...{action_suffix}"
    return forms[0]


def choose_language(browser, code):
    form = browser.find("form#language")
    Select(browser.find("select[name='language']", within=form)).select_by_value(code)
    browser.click_and_wait(browser.find("[type='submit']", within=form))


def test_a_coordinator_works_through_the_caseload_in_english_and_chinese(browser, client):
    data = ConsoleWorld(client)
    world, wang = data.world, data.urgent
    contact_note = f"Phoned Wang Fang: headache eased after sitting up and loosening the leg bag {uuid.uuid4().hex[:8]}"
    resolve_note = f"Redness gone after the cushion was changed; checked on video {uuid.uuid4().hex[:8]}"
    SUITE_LOG.remember(None, {"note": contact_note, "notes": resolve_note})  # tests/test_logs.py looks for them

    # Sign in; the caseload is sorted by risk: the urgent flag first, then the warning, then the calm one.
    sign_in(browser, world.coord_a)
    assert browser.find("html").get_attribute("lang") == "en"  # from the browser's Accept-Language
    assert caseload_ids(browser) == [wang.id, world.a_id, data.calm.id]
    search = browser.find("input[name='q']")
    search.send_keys("Chen")
    browser.click_and_wait(search.find_element("xpath", "ancestor::form//*[@type='submit']"))
    assert caseload_ids(browser) == [data.calm.id]
    browser.open("/console/")
    row = browser.find(f"table#caseload tr[data-patient-id='{wang.id}']")
    link = browser.find("a.patient-link", within=row)
    assert link.get_attribute("href").endswith(f"/console/patients/{wang.id}")
    save_screenshot(browser, "caseload-en")

    # The urgent patient's page: both charts drawn on the server, each with its text title.
    browser.click_and_wait(link)
    assert browser.path == f"/console/patients/{wang.id}"
    for chart in ("#adherence-chart svg", "#dxa-chart svg"):
        title = browser.find(f"{chart} title")
        assert title.get_attribute("textContent").strip(), f"{chart} has an empty <title>"

    # Acknowledge, then resolve, the skin flag (the urgent one stays open, for the screenshots).
    shown = {a.get_attribute("data-flag-id") for a in browser.find_all("#flags article.flag[data-flag-id]")}
    assert {data.urgent_flag, data.warning_flag} <= shown
    flag = flag_article(browser, data.warning_flag)
    browser.click_and_wait(browser.find("[type='submit']", within=form_ending(browser, flag, "/acknowledge")))
    assert data.flag(data.warning_flag)["status"] == "acknowledged"
    resolve = form_ending(browser, flag_article(browser, data.warning_flag), "/resolve")
    Select(browser.find("select[name='outcome']", within=resolve)).select_by_value("contacted_patient")
    browser.find("textarea[name='note']", within=resolve).send_keys(resolve_note)
    browser.click_and_wait(browser.find("[type='submit']", within=resolve))
    resolved = data.flag(data.warning_flag)
    assert (resolved["status"], resolved["outcome"]) == ("resolved", "contacted_patient")
    assert data.flag(data.urgent_flag)["status"] == "open"

    # Log the phone call; it is listed in the contact log.
    contacts = browser.find("#contacts")
    form = browser.find("form", within=contacts)
    Select(browser.find("select[name='channel']", within=form)).select_by_value("phone")
    browser.find("textarea[name='note']", within=form).send_keys(contact_note)
    browser.click_and_wait(browser.find("[type='submit']", within=form))
    browser.wait(lambda _: contact_note in browser.find("#contacts").text, "the contact is not listed")
    save_screenshot(browser, "patient-en", down_to="#dxa-chart")

    # Chinese: the language form in the header; the page says it is zh-CN and speaks Chinese.
    choose_language(browser, "zh-CN")
    assert browser.find("html").get_attribute("lang") in ("zh-CN", "zh-Hans-CN")
    assert CHINESE.search(browser.find("body").text)
    browser.open(f"/console/patients/{wang.id}")
    browser.find("#adherence-chart svg")
    assert CHINESE.search(browser.find("#flags").text)
    save_screenshot(browser, "patient-zh-CN", down_to="#dxa-chart")
    browser.open("/console/")
    assert caseload_ids(browser)[0] == wang.id and CHINESE.search(browser.find("table#caseload").text)
    save_screenshot(browser, "caseload-zh-CN")

    # Sign out: the console sends the browser back to the sign-in page.
    browser.click_and_wait(browser.find("form#logout [type='submit']"))
    browser.open("/console/")
    assert browser.path.startswith("/console/login"), browser.path

    # Coordinator B is not on Wang Fang's care team: 404, and Wang Fang is not in B's caseload.
    sign_in(browser, world.coord_b)
    assert caseload_ids(browser) == [world.b_id]
    browser.open(f"/console/patients/{wang.id}")
    assert status_of_page(browser) == 404
    assert not browser.find_all("#flags") and "Wang Fang" not in browser.find("body").text
