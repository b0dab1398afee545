"""What the app answered during the test run, by operation: (method, path template, status),
the headers of interest, and every JSON body checked against the schema the spec declares for
it. tests/test_declared_statuses.py (marked `last`) compares this with the spec."""
import os
import threading

import jsonschema_rs
from flask import request_finished

from app.openapi import openapi_path

WATCHED_HEADERS = ("ETag", "Last-Modified", "Content-Language", "Retry-After", "Location")


class SpecObserver:
    def __init__(self):
        self.statuses: set[tuple[str, str, int]] = set()
        self.headers: dict[tuple[str, str, int], set[str]] = {}
        self.body_failures: dict[tuple[str, str, int], str] = {}
        self.bodies_checked = 0
        self.first_seen: dict[tuple[str, str, int], str] = {}
        self.enabled = True
        self._spec = None
        self._validators: dict = {}
        self._lock = threading.Lock()

    def connect(self, app):
        request_finished.connect(self._finished, app, weak=False)

    def _validator(self, spec, method, path, status, mimetype):
        key = (method, path, status, mimetype)
        if key not in self._validators:
            op = spec["paths"].get(path, {}).get(method, {})
            response = op.get("responses", {}).get(str(status))
            if response and "$ref" in response:
                response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
            schema = ((response or {}).get("content", {}).get(mimetype) or {}).get("schema")
            validator = None
            if schema is not None:
                root = dict(schema, components=spec["components"])
                validator = jsonschema_rs.validator_for(root)
            self._validators[key] = validator
        return self._validators[key]

    def _finished(self, app, response, **_):
        from flask import request

        rule = request.url_rule
        if not self.enabled or rule is None or rule.endpoint in ("static",) or rule.endpoint.startswith("api-docs"):
            return
        if self._spec is None:
            from app.extensions import api

            self._spec = api.spec.to_dict()
        method, path, status = request.method.lower(), openapi_path(rule.rule), response.status_code
        if path not in self._spec["paths"]:
            return
        key = (method, path, status)
        seen = {name for name in WATCHED_HEADERS if name in response.headers}
        failure = None
        if response.mimetype in ("application/json", "application/problem+json") and not response.is_streamed:
            body = response.get_json(silent=True)
            try:
                validator = self._validator(self._spec, method, path, status, response.mimetype)
            except Exception as error:  # a schema the validator cannot read: report it
                validator, failure = None, f"schema: {error}"
            if validator is not None and body is not None:
                errors = list(validator.iter_errors(body))
                if errors:
                    failure = "; ".join(f"{'/'.join(map(str, e.instance_path))}: {e.message[-240:]}"
                                        for e in errors[:3])
        with self._lock:
            if key not in self.statuses:
                self.first_seen[key] = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
            self.statuses.add(key)
            self.headers.setdefault(key, set()).update(seen)
            self.bodies_checked += 1
            if failure and key not in self.body_failures:
                self.body_failures[key] = failure


OBSERVER = SpecObserver()
