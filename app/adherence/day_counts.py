"""A patient's Tally read from the sessions' day rollups (app/sessions/rollups.py): the same
answers as a Tally of the sessions themselves, built in C from a few texts per plan item with no
Python step per session or per day."""
from array import array
import sys

from app.adherence.metrics import Tally
from app.plans.schedule import span_mask
from app.sessions.rollups import BLOCK_DAYS, OFF_PLAN, ZERO, value_of

_ZEROS = ZERO * BLOCK_DAYS
_CODE_OF_ZERO = ord(ZERO)
_SURROGATES_PASSED = 0xE000  # a character at or above it stands for a value past the skipped surrogates
# _LEVEL[k] turns a block's counts (ASCII: fewer than 80 sessions a day) into '1' where the day
# has more than k sessions, '0' elsewhere: levels[k] read by int(..., 2) from the reversed text.
_LEVEL = [bytes(49 if c - _CODE_OF_ZERO > k else 48 for c in range(256)) for k in range(80)]
_BIG_ENDIAN = sys.byteorder == "big"


def _codes(text: str):
    values = array("I", text.encode("utf-32-le"))
    if _BIG_ENDIAN:
        values.byteswap()
    if values and max(values) >= _SURROGATES_PASSED:  # only past 55,248 in a day: never in practice
        values = array("I", (value_of(c) + _CODE_OF_ZERO for c in text))
    return values


class DayCounts(Tally):
    """A Tally (base, levels, sessions_within, minutes_within, days_within) of the rollup rows of
    one patient: {item_key: [(block, counts, minutes)]}, cut to the days [low, high] (ordinals;
    low None: from the first block's first Monday). Its levels are built at once (the counting
    reads them); a window's sums on the first question about it, all of them at once (a window's
    minutes per item, its minutes and its sessions: what the metrics ask of each window)."""

    __slots__ = ("_any", "_texts")

    def __init__(self, blocks_by_item: dict, low: int | None, high: int):
        if low is None:
            first = min(block for blocks in blocks_by_item.values() for block, _c, _m in blocks) * BLOCK_DAYS
            low = first - (first - 1) % 7  # its Monday (ordinal 1 is a Monday)
        self.base = low
        self.levels, self._texts, self._running = {}, [], {}
        self._any = 0
        for key, blocks in blocks_by_item.items():
            counts, minutes = _joined(blocks, low, high)
            if not counts:
                continue
            if counts.isascii():
                counts = counts.encode("ascii")
                top = max(counts) - _CODE_OF_ZERO
                reversed_counts = counts[::-1]
                levels = tuple(int(reversed_counts.translate(_LEVEL[k]), 2) for k in range(top))
            else:
                levels = _levels_slowly(counts)
                counts = _codes(counts)
            if not levels:
                continue
            self._texts.append((key, counts, minutes))
            self._any |= levels[0]
            if key != OFF_PLAN:
                self.levels[key] = levels

    def _sums(self, start, end) -> tuple[dict, int, int]:
        """({item_key: minutes}, minutes, sessions) of the days [start, end]."""
        window = (start, end)
        found = self._running.get(window)
        if found is None:
            low, high = max(start.toordinal() - self.base, 0), end.toordinal() - self.base + 1
            by_item, minutes, sessions = {}, 0, 0
            if high > low:
                for key, counts, text in self._texts:
                    try:
                        spent = text[low:high].encode("latin-1")  # under 208 minutes a day: a byte each
                    except UnicodeEncodeError:
                        spent = _codes(text[low:high])
                    item_minutes = sum(spent) - _CODE_OF_ZERO * len(spent)
                    by_item[key] = item_minutes
                    minutes += item_minutes
                    logged = counts[low:high]
                    sessions += sum(logged) - _CODE_OF_ZERO * len(logged)
            found = self._running[window] = (by_item, minutes, sessions)
        return found

    def sessions_within(self, start, end) -> int:
        return self._sums(start, end)[2]

    def minutes_within(self, start, end, item_key=None) -> int:
        sums = self._sums(start, end)
        if item_key is None:
            return sums[1]
        return sums[0].get(item_key, 0) if item_key != OFF_PLAN else 0

    def days_within(self, start, end) -> int:
        return (self._any & span_mask(start.toordinal(), end.toordinal(), self.base)).bit_count()


def _joined(blocks: list, low: int, high: int) -> tuple[str, str]:
    """(counts, minutes) of the blocks as one text each, from day low to day high."""
    if len(blocks) == 1:  # the usual case: a window inside one block
        first, counts, minutes = blocks[0]
        start, stop = low - first * BLOCK_DAYS, high - first * BLOCK_DAYS + 1
        if start >= 0:
            return counts[start:stop], minutes[start:stop]
    blocks = sorted(blocks)
    first = blocks[0][0]
    counts, minutes, expected = [], [], first
    for block, block_counts, block_minutes in blocks:
        if block != expected:  # a gap: days with nothing
            counts.append(_ZEROS * (block - expected))
            minutes.append(_ZEROS * (block - expected))
        counts.append(block_counts)
        minutes.append(block_minutes)
        expected = block + 1
    start = low - first * BLOCK_DAYS
    stop = high - first * BLOCK_DAYS + 1
    counts, minutes = "".join(counts), "".join(minutes)
    if start < 0:  # the first block starts after low: days before it had nothing
        counts, minutes = ZERO * -start + counts, ZERO * -start + minutes
        stop -= start
        start = 0
    return counts[start:stop], minutes[start:stop]


def _levels_slowly(counts: str) -> tuple:
    values = [value_of(c) for c in counts]
    top = max(values)
    return tuple(sum(1 << day for day, n in enumerate(values) if n > k) for k in range(top))
