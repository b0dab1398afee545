"""The day-bit arithmetic the counting reads (app/plans/schedule.py: days as bits), against the
same figures counted day by day from dates, on generated days and sessions."""
import random
from collections import Counter
from datetime import date, timedelta

import pytest

from app.plans.schedule import (capped, days_mask, joined_levels, levels_of, shifted, weekday_pattern,
                                weeks_counted)

BASE = date(2026, 3, 2)  # a Monday


def _bit_days(mask: int, base: date) -> list[date]:
    return [base + timedelta(days=k) for k in range(mask.bit_length()) if mask >> k & 1]


@pytest.mark.parametrize("seed", range(20))
def test_weekday_patterns_mark_the_days_whose_weekday_is_in_the_mask(seed):
    rng = random.Random(seed)
    first = BASE + timedelta(days=rng.randrange(7))
    count, weekdays = rng.randrange(1, 60), rng.randrange(128)
    expected = [first + timedelta(days=k) for k in range(count)
                if weekdays >> (first + timedelta(days=k)).weekday() & 1]
    assert _bit_days(weekday_pattern(first.weekday(), count, weekdays), first) == expected


@pytest.mark.parametrize("seed", range(20))
def test_levels_capped_and_weeks_count_what_a_count_by_day_counts(seed):
    rng = random.Random(seed)
    sessions = [rng.randrange(70) for _ in range(rng.randrange(0, 60))]  # day offsets, repeats allowed
    per_day = Counter(sessions)
    levels = levels_of(sessions)
    assert all(_bit_days(level, BASE) == sorted(BASE + timedelta(days=d) for d, n in per_day.items() if n > k)
               for k, level in enumerate(levels))
    chosen = sorted(rng.sample(range(70), rng.randrange(0, 30)))
    for cap in (1, 2, 3):
        assert capped(levels, days_mask(tuple(BASE + timedelta(days=d) for d in chosen), BASE.toordinal()),
                      cap) == sum(min(cap, per_day[d]) for d in chosen)
        offset, weeks, per_week = 7 * rng.randrange(3), rng.randrange(1, 7), rng.randrange(1, 15)
        by_week = [sum(min(cap, per_day[offset + 7 * w + k]) for k in range(7)) for w in range(weeks)]
        assert weeks_counted(levels, offset, weeks, per_week, cap) == sum(min(per_week, n) for n in by_week)


def test_days_before_the_base_and_joined_reads():
    base = BASE.toordinal()
    assert days_mask((BASE - timedelta(days=1), BASE, BASE + timedelta(days=2)), base) == 0b101
    assert shifted(0b1100, -2) == 0b11 and shifted(0b11, 2) == 0b1100
    assert weeks_counted((0b1111111,), -7, 2, 5, 1) == 5  # the week before the base holds nothing
    older, newer = levels_of([0, 0, 3]), levels_of([1, 2, 2, 2])
    assert joined_levels(older, newer, 10) == levels_of([0, 0, 3, 11, 12, 12, 12])
