"""What a plan expects on which day: pure functions over plain data, no database.

The one counting rule. The agenda, adherence, the weekly summary and the streak all count
with the functions below, so they cannot disagree.

Days. A day is the patient's local date; a session counts on the local date it started
(stored with it). Weeks run Monday to Sunday.

In force. A plan expects nothing before its start, after its end or on a paused day. On
each day the version in force is the highest-numbered one whose effective_from is on or
before that day; an item of it is in force from its start_date to its end_date. History is
kept as it was: each day is counted with the version, dose and pauses of that day.

Days-of-week items expect one session on each of their weekdays on which they are in force,
at that day's minutes. The day is done when a session for the item started on it; a second
one the same day, or one on another day, is extra.

N-per-week items are counted per week and dose. An item's days in force in one week,
grouped by dose (sessions a week, minutes), form a stretch; a stretch plans N x days / 7
sessions, rounded half up (a whole week plans N; a plan starting on a Sunday plans 1 of 5).
Sessions count on the stretch's own days only, one a day (two a day when N is 8 or more),
never more than the stretch plans; minutes prescribed are the sessions counted as expected
times the stretch's minutes. A change of dose in mid-week therefore prorates each dose by its
own days, and a pause or an end removes its days from the week.

Windows. A window (7, 30 or 90 days, or from/to) counts only the days inside it, a week cut by
the window as a stretch of those days. The one exception is the week containing today when
the window reaches today: its stretches keep their days still to come (as the plan now
stands, with its scheduled pauses, ends and versions), and what is due by today is what the
stretch plans minus those days to come, never below zero. Sessions done ahead of that pace
count as due, so the rate is on target, never above 100%. A window ending before today is
read as a finished one: the same window read on a later day gives the same figure.

The weekly summary reports what is due by now in the week (planned_sessions, by the window
rule) and what the whole week plans as the plans now stand (week_planned_sessions). Its line
says nothing was planned only when the whole week plans nothing; with sessions planned but none
due yet, it says the days ahead have room for them.

The agenda of a date shows, for an N-per-week item, what its stretch plans this week
(planned_this_week), the sessions counted for it from Monday up to and including that date
(done_this_week) and the difference (remaining_this_week, never below zero). `/agenda?date=`
and `/agenda/week` give the same numbers for the same date.

The streak is counted back from today over the whole history, however long (a stored
checkpoint keeps it cheap: app/adherence/streaks.py). A day with days-of-week sessions due is
kept when all of them were done; a day with nothing due (rest days, N-per-week days, pauses,
days between plans) counts when a session for an item in force that day was logged and is
passed over otherwise. The streak breaks on a due day not met and on the Sunday of a past week
in which an N-per-week stretch got fewer sessions than it planned; today, still in progress,
breaks nothing; it ends at the first plan's start (app/adherence/metrics.py: walk). The last
session is the last one ever logged, however old.
"""
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache, partial
from typing import NamedTuple


@dataclass(frozen=True)
class ItemSpec:
    item_key: object
    exercise_id: object
    minutes: int
    sessions_per_week: int | None
    days_mask: int | None
    start_date: date
    end_date: date | None
    time_of_day: str | None = None
    plan_id: object = None
    item_id: object = None
    version_number: int = 1

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    @property
    def weekly(self) -> bool:
        return self.sessions_per_week is not None

    def fixed_on(self, day: date) -> bool:
        return self.days_mask is not None and bool(self.days_mask & (1 << day.weekday()))


@dataclass
class PlanSpec:
    plan_id: object
    start_date: date
    ended_on: date | None
    versions: list[tuple[int, date, list[ItemSpec]]] = field(default_factory=list)  # sorted by number
    pauses: list[tuple[date, date | None]] = field(default_factory=list)

    def running_on(self, day: date) -> bool:
        return self.start_date <= day and (self.ended_on is None or day <= self.ended_on)

    def paused_on(self, day: date) -> bool:
        return any(start <= day and (end is None or day <= end) for start, end in self.pauses)

    def version_on(self, day: date) -> tuple[int, date, list[ItemSpec]] | None:
        in_force = None
        for version in self.versions:
            if version[1] <= day:
                in_force = version
        return in_force

    def items_on(self, day: date) -> list[ItemSpec]:
        """Items the plan prescribes on day (both kinds); empty when not running or paused."""
        if not self.running_on(day) or self.paused_on(day):
            return []
        version = self.version_on(day)
        return [item for item in version[2] if item.active_on(day)] if version else []


_DAY = timedelta(days=1)
_SIX_DAYS = timedelta(days=6)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def days(start: date, end: date):
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


class Calendar:
    """Plans read day by day, each day and week worked out once: the items in force on a day
    and the N-per-week stretches of a week. For readers of many windows of the same plans (the
    rules sweep, the caseload); every function below takes a Calendar where it takes plans.

    What is in force can change only on a plan's start, the day after its end, a version's
    effective_from, a pause's first day, the day after a pause's last, an item's start and the
    day after its end. Between two such days (a segment) the items in force are the same, so
    they are worked out once per segment, with PlanSpec.items_on on its first day: the rule
    itself, read on fewer days."""

    __slots__ = ("plans", "earliest", "_points", "_segments", "_weeks", "_weekly")

    def __init__(self, plans: list[PlanSpec]):
        self.plans = plans
        self.earliest = min((p.start_date for p in plans), default=None)
        points = set()
        for plan in plans:
            points.add(plan.start_date)
            if plan.ended_on is not None:
                points.add(plan.ended_on + _DAY)
            for first, last in plan.pauses:
                points.add(first)
                if last is not None:
                    points.add(last + _DAY)
            for _number, effective, items in plan.versions:
                points.add(effective)
                for item in items:
                    points.add(item.start_date)
                    if item.end_date is not None:
                        points.add(item.end_date + _DAY)
        self._points = sorted(points)
        self._segments: list = [None] * len(self._points)  # items in force from _points[i] on
        self._weeks: dict = {}
        self._weekly: dict = {}  # segment index -> its N-per-week items (None: two share an item_key)

    def _segment(self, index: int) -> list[ItemSpec]:
        found = self._segments[index]
        if found is None:
            day = self._points[index]
            found = self._segments[index] = [item for plan in self.plans for item in plan.items_on(day)]
        return found

    def in_force(self, day: date) -> list[ItemSpec]:
        index = bisect_right(self._points, day) - 1
        return self._segment(index) if index >= 0 else _NOTHING

    def segment_of(self, day: date) -> tuple[date, list[ItemSpec]]:
        """(the first day of the segment holding day, the items in force in it); before the first
        segment, (date.min, nothing)."""
        index = bisect_right(self._points, day) - 1
        return (self._points[index], self._segment(index)) if index >= 0 else (date.min, _NOTHING)

    def spans(self, start: date, end: date):
        """(first, last, items in force) for the runs of days of [start, end] in one segment,
        in date order, leaving out runs with nothing in force."""
        points = self._points
        index = bisect_right(points, start) - 1
        first = start
        while first <= end:
            last = points[index + 1] - _DAY if index + 1 < len(points) else end
            if last > end:
                last = end
            if index >= 0:
                items = self._segment(index)
                if items:
                    yield first, last, items
            first = last + _DAY
            index += 1

    def week_stretches(self, monday: date) -> list["Stretch"]:
        found = self._weeks.get(monday)
        if found is None:
            found = self._weeks[monday] = self._whole_week(monday) or _week_stretches(self, monday)
        return found

    def _whole_week(self, monday: date) -> list["Stretch"] | None:
        """The stretches of a week inside one segment (the usual week): one per N-per-week item
        in force, all seven days; None for any other week (_week_stretches works it out)."""
        points = self._points
        index = bisect_right(points, monday) - 1
        if index < 0 or (index + 1 < len(points) and points[index + 1] <= monday + _SIX_DAYS):
            return None
        weekly = self._weekly_items(index)
        if not weekly:
            return None
        week = _week_days(monday)
        return [_stretch((key, monday, per_week, minutes, week, item, planned, cap))
                for key, per_week, minutes, item, planned, cap in weekly]

    def _weekly_items(self, index: int) -> list | None:
        """(item_key, N, minutes, item, planned, cap) of each N-per-week item of the segment, a
        whole week planning N; None when two of them share an item_key (_week_stretches joins
        their days)."""
        weekly = self._weekly.get(index, _NOTHING)
        if weekly is _NOTHING:
            weekly = [(i.item_key, i.sessions_per_week, i.minutes, i, i.sessions_per_week, per_day(i.sessions_per_week))
                      for i in self._segment(index) if i.weekly]
            if len({entry[0] for entry in weekly}) != len(weekly):
                weekly = None
            self._weekly[index] = weekly
        return weekly

    def whole_weeks(self, monday: date, through: date) -> tuple[int, list] | None:
        """(k, the segment's _weekly_items) for the k >= 1 whole weeks from monday, ending on or
        before through, that lie in one segment (each the same stretches: one per N-per-week
        item, all seven days, planning N); None when the week from monday is not one of them."""
        points = self._points
        index = bisect_right(points, monday) - 1
        limit = through if index + 1 >= len(points) else min(through, points[index + 1] - _DAY)
        weeks = ((limit - monday).days + 1) // 7
        if index < 0 or weeks < 1:
            return None
        weekly = self._weekly_items(index)
        return None if weekly is None else (weeks, weekly)


_NOTHING: list = []  # shared, never changed


def calendar(plans) -> Calendar:
    return plans if isinstance(plans, Calendar) else Calendar(plans)


def in_force(plans: list[PlanSpec] | Calendar, day: date) -> list[ItemSpec]:
    """The items in force on day (both kinds); do not change the list."""
    if isinstance(plans, Calendar):
        return plans.in_force(day)
    return [item for plan in plans for item in plan.items_on(day)]


def prorated(per_week: int, days_in_force: int) -> int:
    """N a week over some days of a week, rounded half up (integers: no float ties)."""
    return (2 * per_week * days_in_force + 7) // 14


def per_day(per_week: int) -> int:
    """How many sessions of an N-per-week item count on one day."""
    return -(-per_week // 7)


# --- days as bits ----------------------------------------------------------------------------
# What was logged is counted from bit masks of days: bit i stands for the day whose ordinal is
# base + i. An item's sessions are its levels: levels[k] holds the days with more than k sessions
# (levels[0] the days with any), so "at most cap a day" over a set of days is the sum of the
# first cap levels' bits in the set's mask. One AND and one bit count per level replace a look-up
# per day; the masks of the days the plans expect are shared by every patient of a batch.
# An item_key names one item on any day (plans/lifecycle gives each plan's items keys of their
# own, carried only to that plan's later versions): a day is one bit per key, counted once.

class Logged(NamedTuple):
    """Sessions by item as levels of day bits (app/adherence/metrics.py: Tally has the same two)."""

    base: int | None  # the ordinal of bit 0 (None: nothing logged)
    levels: dict      # {item_key: (mask of days with more than 0 sessions, more than 1, ...)}


NOTHING_LOGGED = Logged(None, {})


def levels_of(offsets: list) -> tuple[int, ...]:
    """An item's levels from the bit offsets of its sessions, one offset per session."""
    if not offsets:
        return ()
    distinct = set(offsets)
    first = sum(map((1).__lshift__, distinct))  # distinct bits: the sum is their OR
    if len(distinct) == len(offsets):
        return (first,)
    per_day = Counter(offsets)
    levels = [first]
    for k in range(2, max(per_day.values()) + 1):
        levels.append(sum(1 << offset for offset, n in per_day.items() if n >= k))
    return tuple(levels)


def joined_levels(older: tuple, newer: tuple, shift: int) -> tuple:
    """Two items' levels over days that do not overlap, newer's bit 0 being older's bit shift."""
    longer = max(len(older), len(newer))
    older, newer = (*older, *(0,) * (longer - len(older))), (*newer, *(0,) * (longer - len(newer)))
    return tuple(a | (b << shift) for a, b in zip(older, newer))


def shifted(mask: int, offset: int) -> int:
    """mask moved offset bits up (down when negative: bits below 0 are dropped)."""
    return mask << offset if offset >= 0 else mask >> -offset


def capped(levels: tuple, mask: int, cap: int) -> int:
    """Sessions on the days of mask, at most cap a day."""
    if cap == 1:
        return (levels[0] & mask).bit_count() if levels else 0
    return sum((level & mask).bit_count() for level in levels[:cap])


def span_mask(first: int, last: int, base: int) -> int:
    """The days first to last (ordinals), as bits from base."""
    return shifted((1 << (last - first + 1)) - 1, first - base) if last >= first else 0


@lru_cache(maxsize=4096)
def weekday_pattern(weekday: int, count: int, mask: int) -> int:
    """Bits 0 to count - 1 for the days from one with this weekday, set on the days whose weekday
    is in mask (bit 0 Monday): seven bits of the mask turned to start on that weekday, repeated."""
    turned = sum(1 << k for k in range(7) if mask >> ((weekday + k) % 7) & 1)
    blocks = -(-count // 7)
    return ((1 << 7 * blocks) - 1) // 127 * turned & ((1 << count) - 1)


@lru_cache(maxsize=8192)
def days_mask(days: tuple[date, ...], base: int) -> int:
    """The days, as bits from base (shared by the patients of a batch, whose masks share a base)."""
    mask = 0
    for day in days:
        offset = day.toordinal() - base
        if offset >= 0:
            mask |= 1 << offset
    return mask


_WEEK = 0b1111111


def weeks_counted(levels: tuple, offset: int, weeks: int, per_week: int, cap: int) -> int:
    """The sessions that count over the whole weeks from bit offset: at most cap a day and
    per_week a week."""
    if not levels:
        return 0
    if cap == 1:
        bits = shifted(levels[0], -offset)
        return sum(min(per_week, (bits >> 7 * week & _WEEK).bit_count()) for week in range(weeks))
    moved = [shifted(level, -offset) for level in levels[:cap]]
    return sum(min(per_week, sum((bits >> 7 * week & _WEEK).bit_count() for bits in moved))
               for week in range(weeks))


class Stretch(NamedTuple):
    """An N-per-week item's days in force in one week at one dose, with what it plans and how
    many sessions count on one day (a tuple: a batch's windows make tens of thousands)."""

    item_key: object
    week: date
    sessions_per_week: int
    minutes: int
    days: tuple[date, ...]
    item: ItemSpec  # as in force on the stretch's last day
    planned: int
    cap: int

    @classmethod
    def of(cls, item_key, week: date, sessions_per_week: int, minutes: int, days: tuple[date, ...],
           item: ItemSpec) -> "Stretch":
        return cls(item_key, week, sessions_per_week, minutes, days, item, prorated(sessions_per_week, len(days)),
                   per_day(sessions_per_week))

    def counted(self, levels: tuple, base: int, through: date | None = None) -> int:
        """Sessions that count for the stretch (the item's levels of day bits from base), up to through."""
        if not levels:
            return 0
        mask = days_mask(self.days, base)
        if through is not None:
            mask &= span_mask(base, through.toordinal(), base)
        return min(self.planned, capped(levels, mask, self.cap))


def week_stretches(plans: list[PlanSpec] | Calendar, monday: date) -> list[Stretch]:
    """The N-per-week stretches of the week starting on monday, whole week, as the plans stand."""
    return calendar(plans).week_stretches(monday)


@lru_cache(maxsize=1024)
def _week_days(monday: date) -> tuple[date, ...]:
    """The seven days of the week starting on monday (shared by every patient of a batch)."""
    return tuple(monday + timedelta(days=k) for k in range(7))


def _week_stretches(plans: Calendar, monday: date) -> list[Stretch]:
    week = _week_days(monday)
    found: dict = {}  # (item_key, sessions a week, minutes) -> [its days in date order, item on the last]
    for first, last, items in plans.spans(monday, week[6]):
        run = None
        for item in items:
            if item.weekly:
                if run is None:
                    run = week[(first - monday).days:(last - monday).days + 1]
                key = (item.item_key, item.sessions_per_week, item.minutes)
                entry = found.get(key)
                if entry is None:
                    found[key] = [run, item]
                else:
                    entry[0] += run
                    entry[1] = item
    return [Stretch.of(key[0], monday, key[1], key[2], day_list, item) for key, (day_list, item) in found.items()]


def stretch_on(plans: list[PlanSpec], item: ItemSpec, day: date, stretches: list[Stretch] | None = None) -> Stretch:
    """The stretch an N-per-week item in force on day belongs to."""
    for stretch in stretches if stretches is not None else week_stretches(plans, week_start(day)):
        if stretch.item_key == item.item_key and day in stretch.days:
            return stretch
    raise ValueError("item not in force as N-per-week on that day")


class Quota(NamedTuple):
    """A stretch as a window counts it."""

    stretch: Stretch
    days: tuple[date, ...]  # its days inside the window (and, in the current week, still to come)
    ahead: int              # of those, days after today
    planned: int
    due: int                # what must be done by today for the plan to stay reachable

    @classmethod
    def of(cls, stretch: Stretch, days: tuple[date, ...], ahead: int) -> "Quota":
        planned = stretch.planned if days is stretch.days else prorated(stretch.sessions_per_week, len(days))
        return cls(stretch, days, ahead, planned, max(0, planned - ahead))

    def counted(self, levels: tuple, base: int) -> int:
        if not levels:
            return 0
        return min(self.planned, capped(levels, days_mask(self.days, base), self.stretch.cap))


@dataclass(slots=True)
class ItemWindow:
    item: ItemSpec        # as in force on its last day in the window
    base: int             # the ordinal of the masks' bit 0
    fixed_due: int = 0    # days-of-week days due
    fixed_minutes: int = 0
    fixed_mask: int = 0   # those days as bits from base
    quotas: list = field(default_factory=list)  # [Quota]
    # Runs of whole past weeks of one segment, all due: (the first Monday as a bit offset from
    # base, weeks, N, cap, minutes), so that k identical weeks are counted as one run, not k Quotas.
    runs: list = field(default_factory=list)


@lru_cache(maxsize=4096)
def _fixed_days(weekday: int, count: int, mask: int) -> tuple[int, int]:
    """(how many, their bits from the first) of the mask's weekdays among the count days from a
    day of this weekday (patients of a batch share their windows' days: worked out once)."""
    pattern = weekday_pattern(weekday, count, mask)
    return pattern.bit_count(), pattern


def window(plans: list[PlanSpec] | Calendar, start: date, end: date, today: date, base: int | None = None) -> dict:
    """{item_key: ItemWindow} for the items in force on some day of [start, end] (end <= today),
    its masks as bits from base (an ordinal; by default start's Monday's)."""
    plans = calendar(plans)  # each day's items are read again for the weeks' stretches
    if base is None:
        base = week_start(start).toordinal()
    result: dict = {}
    for first, last, items in plans.spans(start, end):
        weekday, count = first.weekday(), (last - first).days + 1
        for item in items:
            entry = result.get(item.item_key)
            if entry is None:
                entry = result[item.item_key] = ItemWindow(item, base)
            else:
                entry.item = item
            mask = item.days_mask
            if mask and not item.weekly:  # its weekdays in the run
                due, pattern = _fixed_days(weekday, count, mask)
                entry.fixed_due += due
                entry.fixed_minutes += due * item.minutes
                entry.fixed_mask |= shifted(pattern, first.toordinal() - base)
    monday = week_start(start)
    while monday <= end:
        sunday = monday + _SIX_DAYS
        if monday >= start and sunday <= end:  # whole weeks, all due (end <= today)
            run = plans.whole_weeks(monday, end)
            if run is not None:
                weeks, weekly = run
                if weekly:
                    offset = monday.toordinal() - base
                    for key, per_week, minutes, _item, _planned, cap in weekly:
                        entry = result.get(key)
                        if entry is not None:
                            entry.runs.append((offset, weeks, per_week, cap, minutes))
                monday += timedelta(weeks=weeks)
                continue
        last = sunday if monday <= today <= sunday and end == today else end
        for stretch in plans.week_stretches(monday):
            inside = stretch.days  # in date order
            if inside[0] < start or inside[-1] > last:
                inside = inside[bisect_left(inside, start):bisect_right(inside, last)]
            entry = result.get(stretch.item_key) if inside and inside[0] <= end else None
            if entry is not None:
                if inside is stretch.days and inside[-1] <= today:  # a whole past week: all of it due
                    entry.quotas.append(_quota((stretch, inside, 0, stretch.planned, stretch.planned)))
                else:
                    ahead = len(inside) - bisect_right(inside, today) if inside[-1] > today else 0
                    entry.quotas.append(Quota.of(stretch, inside, ahead))
        monday += timedelta(days=7)
    return result


# A Stretch or Quota from its fields' values, with no Python frame (tens of thousands a batch).
_stretch, _quota = partial(tuple.__new__, Stretch), partial(tuple.__new__, Quota)
