"""The caseload row's sparkline: weekly adherence rates, a week with nothing planned as a gap."""
import hashlib

from flask_babel import gettext as _
from flask_babel import ngettext

from app.console.charts.data import Chart
from app.console.charts.svg import (
    DONE,
    GRID,
    MUTED,
    el,
    frame,
    path,
    percent,
    scale,
    sentences,
)

WIDTH, HEIGHT, PAD = 96, 24, 3


def _summary(rates: list[float | None], label: str) -> str:
    rated = [r for r in rates if r is not None]
    if not rated:
        return ngettext("%(label)s: nothing planned in the last %(num)d week.",
                        "%(label)s: nothing planned in the last %(num)d weeks.", len(rates), label=label)
    sentence = ngettext("%(label)s: weekly adherence over %(num)d week from %(low)s to %(high)s, latest %(last)s.",
                        "%(label)s: weekly adherence over %(num)d weeks from %(low)s to %(high)s, latest %(last)s.",
                        len(rates), label=label, low=percent(min(rated)), high=percent(max(rated)),
                        last=percent(rates[-1]) if rates[-1] is not None else _("nothing planned"))
    empty = len(rates) - len(rated)
    return sentences([sentence, empty and ngettext("Nothing planned in %(num)d week.",
                                                   "Nothing planned in %(num)d weeks.", empty)])


def x_of(index: int, count: int) -> float:
    return scale(index, 0, max(count - 1, 1), PAD, WIDTH - PAD)


def y_of(rate: float) -> float:
    return scale(rate, 0, 1, HEIGHT - PAD, PAD)


def sparkline(rates: list[float | None], *, label: str, id: str | None = None) -> Chart:
    """rates: oldest week first, 0..1, None for a week with nothing planned. id: unique on the
    page (e.g. "spark-<patient id>"); by default one derived from label and rates."""
    chart_id = id or "spark-" + hashlib.sha1(repr((label, rates)).encode()).hexdigest()[:10]
    summary = _summary(rates, label)
    points = [None if r is None else (x_of(i, len(rates)), y_of(r)) for i, r in enumerate(rates)]
    body = [el("line", class_="baseline", x1=PAD, y1=y_of(0), x2=WIDTH - PAD, y2=y_of(0), stroke=GRID,
               stroke_width=0.5, stroke_dasharray="1 2"),
            path(points, stroke=DONE, stroke_width=1.5, stroke_linejoin="round")]
    for i, (rate, point) in enumerate(zip(rates, points)):
        last = i == len(rates) - 1
        if point is None:  # nothing planned: a hollow mark on the mid line, never a 0 %
            body.append(el("circle", class_="none-planned", cx=x_of(i, len(rates)), cy=y_of(0.5), r=1.5,
                           fill="none", stroke=MUTED, stroke_width=0.75))
        else:
            body.append(el("circle", class_="rate", cx=point[0], cy=point[1], r=2.25 if last else 1.25, fill=DONE))
    return Chart(frame(chart_id, WIDTH, HEIGHT, _("Weekly adherence, %(label)s", label=label), summary, body), summary)
