"""The patient page's adherence chart: per week, planned and done sessions as paired bars
(planned hatched, done solid) and minutes prescribed (dashed, squares) and done (solid, dots)."""
from flask_babel import gettext as _
from flask_babel import ngettext

from app.console.charts.data import Chart, ChartText, WeekPoint
from app.console.charts.svg import (
    DONE,
    GRID,
    INK,
    MUTED,
    el,
    frame,
    group,
    hatch,
    nice_max,
    number,
    path,
    percent,
    scale,
    sentences,
    short_date,
    text,
)

WIDTH, HEIGHT = 640, 340
LEFT, RIGHT = 52, 628
SESSIONS_TOP, SESSIONS_BOTTOM = 54, 180
MINUTES_TOP, MINUTES_BOTTOM = 210, 290
LABELS_Y = 306
LABEL_EVERY_WEEK = 8  # more weeks: every other one, or the dates run into each other
EVERY_OTHER = 2


def summary(weeks: list[WeekPoint]) -> str:
    planned = sum(w.planned_sessions for w in weeks)
    done = sum(w.done_sessions for w in weeks)
    if not weeks or (planned == 0 and done == 0):
        return ngettext("%(num)d week: nothing planned.", "%(num)d weeks: nothing planned.", len(weeks))
    sentence = ngettext("%(num)d week: %(done)d of %(planned)d planned sessions done (%(rate)s).",
                        "%(num)d weeks: %(done)d of %(planned)d planned sessions done (%(rate)s).",
                        len(weeks), done=done, planned=planned,
                        rate=percent(done / planned) if planned else _("nothing planned"))
    last = weeks[-1]
    if last.planned_sessions == 0:
        last_words = _("This week: nothing due so far.") if not last.complete else _("Last week: nothing planned.")
    elif not last.complete:
        last_words = _("This week so far: %(done)d of %(planned)d.", done=last.done_sessions,
                       planned=last.planned_sessions)
    else:
        last_words = _("Last week: %(done)d of %(planned)d.", done=last.done_sessions, planned=last.planned_sessions)
    minutes = _("Minutes: %(done)s done of %(prescribed)s prescribed.",
                done=number(sum(w.done_minutes for w in weeks)),
                prescribed=number(sum(w.prescribed_minutes for w in weeks)))
    return sentences([sentence, last_words, minutes])


def _axis(top: int, bottom: int, high: int, title: str) -> list:
    out = [text(8, top - 8, title, size=11, fill=INK)]
    for value in (0, high // 2 if high >= 2 else None, high):
        if value is None:
            continue
        y = scale(value, 0, high, bottom, top)
        out.append(el("line", x1=LEFT, y1=y, x2=RIGHT, y2=y, stroke=GRID, stroke_width=0.5, stroke_dasharray="2 3"))
        out.append(text(LEFT - 6, y + 4, str(value), size=10, anchor="end", fill=MUTED))
    return out


def _legend(pattern: str) -> list:
    items = [(el("rect", x=0, y=-9, width=12, height=10, fill=f"url(#{pattern})", stroke=MUTED), _("Planned sessions")),
             (el("rect", x=0, y=-9, width=12, height=10, fill=DONE), _("Done sessions")),
             (el("line", x1=0, y1=-4, x2=14, y2=-4, stroke=MUTED, stroke_width=2, stroke_dasharray="4 2"),
              _("Minutes prescribed")),
             (el("line", x1=0, y1=-4, x2=14, y2=-4, stroke=DONE, stroke_width=2), _("Minutes done"))]
    return [group([swatch, text(18, 0, words, size=11)], class_="legend", transform=f"translate({LEFT + i * 145} 16)")
            for i, (swatch, words) in enumerate(items)]


def weekly_adherence(weeks: list[WeekPoint], *, text: ChartText) -> Chart:
    words = summary(weeks)
    pattern = f"{text.id}-planned"
    body = _legend(pattern)
    if not weeks:
        return Chart(frame(text.id, WIDTH, HEIGHT, text.title, words, body + [_text(words)]), words)
    step = (RIGHT - LEFT) / len(weeks)
    top_sessions = nice_max(max(max(w.planned_sessions, w.done_sessions) for w in weeks))
    top_minutes = nice_max(max(max(w.prescribed_minutes, w.done_minutes) for w in weeks))
    body += _axis(SESSIONS_TOP, SESSIONS_BOTTOM, top_sessions, _("Sessions"))
    body += _axis(MINUTES_TOP, MINUTES_BOTTOM, top_minutes, _("Minutes"))
    body.append(_text(_("Week starting"), x=RIGHT, y=HEIGHT - 8, anchor="end"))
    prescribed, done = [], []
    for i, week in enumerate(weeks):
        x = LEFT + i * step
        middle = x + step / 2
        body.append(_week_bars(week, x, step, top_sessions, pattern))
        if len(weeks) <= LABEL_EVERY_WEEK or (len(weeks) - 1 - i) % EVERY_OTHER == 0:  # this week always labelled
            body.append(_text(short_date(week.week_start), x=middle, y=LABELS_Y, anchor="middle", size=10))
        prescribed.append((middle, scale(week.prescribed_minutes, 0, top_minutes, MINUTES_BOTTOM, MINUTES_TOP)))
        done.append((middle, scale(week.done_minutes, 0, top_minutes, MINUTES_BOTTOM, MINUTES_TOP)))
    body.append(path(prescribed, class_="minutes-prescribed", stroke=MUTED, stroke_width=1.5, stroke_dasharray="4 2"))
    body.append(path(done, class_="minutes-done", stroke=DONE, stroke_width=2))
    body += [el("rect", class_="minutes-prescribed-point", x=x - 3, y=y - 3, width=6, height=6, fill="#ffffff",
                stroke=MUTED, stroke_width=1.5) for x, y in prescribed]
    body += [el("circle", class_="minutes-done-point", cx=x, cy=y, r=3, fill=DONE) for x, y in done]
    return Chart(frame(text.id, WIDTH, HEIGHT, text.title, words, body, defs=[hatch(pattern, MUTED)]), words)


def _text(value, x=WIDTH / 2, y=HEIGHT / 2, anchor="middle", size=11):
    return text(x, y, value, size=size, anchor=anchor, fill=INK)


def _week_bars(week: WeekPoint, x: float, step: float, top: int, pattern: str):
    width = step * 0.34
    label = _("Week of %(date)s: %(done)d of %(planned)d sessions done, %(minutes)d of %(prescribed)d minutes.",
              date=short_date(week.week_start), done=week.done_sessions, planned=week.planned_sessions,
              minutes=week.done_minutes, prescribed=week.prescribed_minutes)
    parts = [el("title", label)]
    if week.planned_sessions == 0 and week.done_sessions == 0:
        parts.append(text(x + step / 2, SESSIONS_BOTTOM - 4, "–", size=12, anchor="middle", fill=MUTED,
                          class_="none-planned"))
    for kind, value, left, fill in (("planned", week.planned_sessions, x + step * 0.14, f"url(#{pattern})"),
                                    ("done", week.done_sessions, x + step * 0.52, DONE)):
        if value:
            y = scale(value, 0, top, SESSIONS_BOTTOM, SESSIONS_TOP)
            parts.append(el("rect", class_=kind, x=left, y=y, width=width, height=SESSIONS_BOTTOM - y, fill=fill,
                            stroke=MUTED if kind == "planned" else None))
    if week.planned_sessions and not week.done_sessions:
        parts.append(text(x + step * 0.69, SESSIONS_BOTTOM - 4, "0", size=9, anchor="middle", fill=INK))
    return group(parts, class_="week", data_rate=None if week.rate is None else f"{week.rate:.4f}")
