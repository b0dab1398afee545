"""Browser tests: the real app served on loopback by a werkzeug server in a thread, driven by
Debian's headless Chromium through chromedriver (Selenium). Without the browser they are
skipped, and the run says so in one line with the command that runs them."""
import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BROWSER_TESTS_CHROMEDRIVER", "/usr/bin/chromedriver")
HERE = Path(__file__).parent
SKIPPED = pytest.StashKey[set]()
WINDOW = (1280, 900)
WAIT_SECONDS = 10
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}")


def browser_missing() -> list[str]:
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def pytest_collection_modifyitems(config, items):
    missing = browser_missing()
    config.stash[SKIPPED] = set()
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"no browser: {', '.join(missing)} missing (make test-browser)")
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)
            config.stash[SKIPPED].add(item.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    marked = config.stash.get(SKIPPED, set())
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.nodeid in marked]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} browser test{'s' if len(skipped) != 1 else ''} skipped: Debian's chromium and chromium-driver are not installed "
            f"({', '.join(browser_missing())} missing); to install them and run them: make test-browser",
            yellow=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test also reports where the browser was and what the page said."""
    report = yield
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when == "call" and report.failed and browser is not None:
        try:
            page = f"{browser.path}\n{browser.driver.find_element('css selector', 'body').text[:4000]}"
        except Exception as error:  # the browser itself may be what failed
            page = f"(no page: {type(error).__name__})"
        report.sections.append(("the browser's page", page))
    return report


class QuietRequestHandler(WSGIRequestHandler):
    """No werkzeug access line: it carries the path with its ids (the app logs its own)."""

    def log_request(self, *args, **kwargs):
        pass


class LiveServer:
    """The app on 127.0.0.1 and a free port, served from a background thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=WAIT_SECONDS)


@pytest.fixture(scope="module")
def live_server(app):
    """Serves the suite's app (same database). Tests that use it are `committing`: what they
    create is committed, so the server's threads see it, and the tables are cleaned after."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One headless Chromium per test module, with a fresh profile; Selenium Manager is never
    asked to download anything (the binary and the driver are given)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--lang=en-US")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(*WINDOW)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def browser(request, chromium, live_server):
    """The module's Chromium with a clean slate (no cookies from an earlier test)."""
    assert request.node.get_closest_marker("committing"), (
        "a browser test must be marked committing: the server's threads cannot see a rolled-back transaction")
    chromium.delete_all_cookies()
    yield Browser(chromium, live_server.url)


class Browser:
    """Thin helpers over the Selenium driver: absolute URLs and explicit waits, never sleeps."""

    def __init__(self, driver, base_url):
        self.driver = driver
        self.base_url = base_url

    def open(self, path):
        self.driver.get(self.base_url + path)
        return self

    @property
    def path(self):
        return self.driver.current_url.removeprefix(self.base_url)

    def wait(self, condition, message="", seconds=WAIT_SECONDS, ignoring=()):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, seconds, ignored_exceptions=ignoring).until(condition, message)

    def find(self, css, within=None):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        if within is not None:
            return self.wait(lambda _: within.find_element(By.CSS_SELECTOR, css), f"no {css}")
        return self.wait(EC.presence_of_element_located((By.CSS_SELECTOR, css)), f"no {css} on {self.path}")

    def find_all(self, css, within=None):
        from selenium.webdriver.common.by import By

        return (within or self.driver).find_elements(By.CSS_SELECTOR, css)

    def click_and_wait(self, element):
        """Click a link or a submit button and wait until the page it was on has gone."""
        from selenium.webdriver.support import expected_conditions as EC

        from selenium.common.exceptions import WebDriverException

        page = self.find("html")
        element.click()
        # While Chromium swaps documents, asking about the old one can fail with a transient
        # "unknown error: unhandled inspector error"; that means "not yet", so ask again.
        self.wait(EC.staleness_of(page), "the click did not leave the page", ignoring=(WebDriverException,))
        self.loaded()

    def loaded(self):
        """The new page has finished loading: elements found before then may belong to a document
        Chromium is still replacing ("Node with given id does not belong to the document")."""
        from selenium.common.exceptions import WebDriverException

        self.wait(lambda driver: driver.execute_script("return document.readyState") == "complete",
                  "the page did not finish loading", ignoring=(WebDriverException,))
        self.find("body")
