"""Started in the processes a test run with `pytest --at MOMENT` starts (tests/conftest.py puts
this folder on their PYTHONPATH): their clock reads what the run's clock reads, ticking."""
import os

_offset = os.environ.get("STANDSTRONG_TESTS_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
