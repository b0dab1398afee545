"""Every log record of the test run, and every piece of patient data the run sent or received,
so one test at the end can check that no log line carries any of it."""
import json
import logging
import re
import threading

from flask.testing import FlaskClient

from app.common.logging import JsonFormatter

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Free text and personal data in request bodies (ids are found by their shape anywhere).
SENSITIVE_KEYS = {"notes", "note", "clinical_notes", "display_name", "relationship_note", "contact_email",
                  "email", "reason", "change_note", "site", "password", "new_password", "current_password"}
MIN_LENGTH = 10  # shorter values ("son", "12345678") also occur by chance (in request ids)


class SuiteLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.sensitive: set[str] = set()
        self._lock = threading.Lock()
        self.setFormatter(JsonFormatter())

    def emit(self, record):
        line = self.format(record)
        with self._lock:
            self.lines.append(line)

    def remember(self, text: str | None, body=None):
        found = set(UUID.findall(text or ""))
        found |= {v for v in _sensitive_values(body) if len(v) >= MIN_LENGTH}
        with self._lock:
            self.sensitive |= found


SUITE_LOG = SuiteLog()


def _sensitive_values(value):
    if isinstance(value, dict):
        for key, child in value.items():
            if key in SENSITIVE_KEYS and isinstance(child, str):
                yield child
            else:
                yield from _sensitive_values(child)
    elif isinstance(value, list):
        for child in value:
            yield from _sensitive_values(child)


class RecordingClient(FlaskClient):
    """The test client, remembering the ids and free text of every request and answer."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = response.request
        body = kwargs.get("json")
        if body is None and kwargs.get("data") and isinstance(kwargs["data"], str) and len(kwargs["data"]) < 100_000:
            try:
                body = json.loads(kwargs["data"])
            except ValueError:
                body = None
        SUITE_LOG.remember(request.full_path + " " + (json.dumps(body) if body is not None else ""), body)
        if response.mimetype and response.mimetype.endswith("json"):
            SUITE_LOG.remember(response.get_data(as_text=True))
        return response


def install():
    for name in ("standstrong", ""):  # ours (which does not propagate) and everything else
        logger = logging.getLogger(name)
        logger.addHandler(SUITE_LOG)  # once: the same handler is not added twice
        logger.disabled = False
    logging.getLogger("standstrong").setLevel(logging.INFO)
