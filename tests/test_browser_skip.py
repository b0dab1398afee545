"""Without Debian's chromium and chromium-driver the browser tests are skipped, and the run
says so in one line with the command that installs and runs them (tests/browser/conftest.py)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.no_database
def test_a_run_without_the_browser_skips_the_browser_tests_and_says_how_to_run_them(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    env.update(BROWSER_TESTS_CHROMIUM=str(tmp_path / "no-chromium"), BROWSER_TESTS_CHROMEDRIVER=str(tmp_path / "no-driver"))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    [line] = [line for line in run.stdout.splitlines() if " skipped: Debian's chromium" in line]
    collected = run.stdout.count("s", 0, run.stdout.index("\n"))  # the progress line: one s per test
    assert line.startswith(f"{collected} browser test{'s' if collected != 1 else ''} skipped: "
                           "Debian's chromium and chromium-driver are not installed")
    assert line.endswith("make test-browser") and "no-chromium" in line
    assert "passed" not in run.stdout and f"{collected} skipped" in run.stdout
