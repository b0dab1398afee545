"""Work over a batch of many patients."""
import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector waits until the block ends.

    Counting a batch of patients allocates hundreds of thousands of small containers; the
    collector's full passes over the whole heap then cost more than the counting itself (a rules
    sweep of 1,000 patients: 0.5 of its 1.2 s CPU). Reference counting still frees what the
    block drops; the few cycles it makes are collected after it. Bounded batches only."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
