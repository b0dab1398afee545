"""Writing SVG by hand: escaped elements, the frame with title and desc, patterns, the palette.

Every colour passes WCAG AA against white: INK and MUTED as text (>= 4.5:1), the others as
graphics (>= 3:1). Series differ by pattern, marker or label as well as by colour."""
import re
from datetime import date

from babel.dates import format_skeleton
from flask_babel import format_decimal, format_percent, get_locale
from markupsafe import Markup, escape

INK = "#1a1a1a"      # text
MUTED = "#595959"    # axes, planned, prescribed
GRID = "#767676"     # grid lines (thin, dotted)
DONE = "#1c5d99"     # what was done
ALERT = "#b3261e"    # fracture-risk threshold and the points below it
FONT = "font-family=\"system-ui, sans-serif\""

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def _attr(name: str) -> str:
    return name.rstrip("_").replace("_", "-")


def _num(value) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def el(tag: str, text=None, **attrs) -> Markup:
    """<tag attrs>text</tag>, everything escaped; float attributes to one decimal."""
    parts = "".join(f' {_attr(k)}="{escape(_num(v))}"' for k, v in attrs.items() if v is not None)
    if text is None:
        return Markup(f"<{tag}{parts}/>")
    return Markup(f"<{tag}{parts}>{escape(text)}</{tag}>")


def group(children, **attrs) -> Markup:
    parts = "".join(f' {_attr(k)}="{escape(_num(v))}"' for k, v in attrs.items() if v is not None)
    return Markup(f"<g{parts}>") + Markup("").join(children) + Markup("</g>")


def checked_id(chart_id: str) -> str:
    if not _ID.match(chart_id):
        raise ValueError("a chart id starts with a letter and holds letters, digits, - and _ only")
    return chart_id


def hatch(pattern_id: str, colour: str, spacing: int = 6, width: float = 2) -> Markup:
    """Diagonal lines: tells a shape apart without its colour."""
    return Markup(f'<pattern id="{escape(pattern_id)}" width="{spacing}" height="{spacing}" '
                  f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">') + el(
        "line", x1=0, y1=0, x2=0, y2=spacing, stroke=colour, stroke_width=width) + Markup("</pattern>")


def frame(chart_id: str, width: int, height: int, title: str, desc: str, body, defs=()) -> Markup:
    chart_id = checked_id(chart_id)
    head = Markup(f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
                  f'width="{width}" height="{height}" aria-labelledby="{chart_id}-title {chart_id}-desc" '
                  f'class="chart" {FONT}>')
    defs_markup = Markup("<defs>") + Markup("").join(defs) + Markup("</defs>") if defs else Markup("")
    return (head + el("title", title, id=f"{chart_id}-title") + el("desc", desc, id=f"{chart_id}-desc")
            + defs_markup + Markup("").join(body) + Markup("</svg>"))


def text(x, y, value, size=11, anchor="start", fill=INK, **attrs) -> Markup:
    return el("text", value, x=x, y=y, font_size=size, text_anchor=anchor, fill=fill, **attrs)


def path(points, **attrs) -> Markup:
    """A line through (x, y) points; None breaks it."""
    d, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        d.append(f"{'L' if pen_down else 'M'}{_num(float(point[0]))} {_num(float(point[1]))}")
        pen_down = True
    return el("path", d=" ".join(d), fill="none", **attrs) if d else Markup("")


def scale(value: float, low: float, high: float, start: float, end: float) -> float:
    """value in [low, high] to [start, end] (start > end for a y axis)."""
    if high == low:
        return (start + end) / 2
    return start + (value - low) / (high - low) * (end - start)


def nice_max(value: float) -> int:
    """An axis top at or above value (at least 1): a round number, even when above 1 so that
    its half is a whole number too."""
    step = 1
    while True:
        for factor in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8):
            top = round(step * factor)
            if top >= value and (top == 1 or top % 2 == 0):
                return top
        step *= 10


def sentences(parts) -> str:
    """Sentences one after the other: a space between them, none in Chinese."""
    locale = get_locale()
    return ("" if locale is not None and locale.language == "zh" else " ").join(p for p in parts if p)


def percent(rate: float) -> str:
    return format_percent(rate)


def number(value: int) -> str:
    return format_decimal(value)


def decimal(value: float, places: int = 3) -> str:
    return format_decimal(value, format="0." + "0" * places)


def short_date(day: date) -> str:
    """Week labels: "Mar 1" / "3月1日"."""
    return format_skeleton("MMMd", day, locale=get_locale() or "en")
