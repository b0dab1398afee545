"""DXA results over time: one panel per site and side (BMD line with its points), the least
significant change band around the baseline, and the knee fracture-risk threshold on knee sites.
Points below the threshold are triangles with their value, not only a colour."""
from datetime import date

from flask_babel import gettext as _
from flask_babel import ngettext

from app.console.charts import svg
from app.console.charts.data import Chart, ChartText, SiteSeries
from app.console.charts.svg import (
    ALERT,
    DONE,
    GRID,
    INK,
    MUTED,
    decimal,
    el,
    frame,
    group,
    hatch,
    path,
    scale,
    sentences,
    text,
)
from app.console.i18n import html_lang, page_date
from app.dxa import content

WIDTH, LEFT, RIGHT = 640, 64, 600
HEADER, PANEL, GAP = 52, 150, 16


def site_name(site: str) -> str:
    return content.site_name(site, html_lang())


def side_label(series: SiteSeries) -> str:
    return content.site_on_side(series.site, series.side, html_lang())


def _judgement(series: SiteSeries) -> str | None:
    return {"real_loss": _("a real loss"),
            "real_gain": _("a real gain"),
            "no_real_change": _("no change beyond measurement error"),
            "not_comparable": _("not comparable (another machine)")}.get(series.change_from_baseline)


def series_summary(series: SiteSeries) -> str:
    latest = series.points[-1]
    judgement = _judgement(series)
    return sentences([
        _("%(site)s: %(bmd)s g/cm² on %(date)s.", site=side_label(series), bmd=decimal(latest.bmd),
          date=page_date(latest.scan_date)),
        ngettext("%(num)d scan.", "%(num)d scans.", len(series.points)),
        judgement and _("Since the baseline of %(date)s: %(judgement)s.",
                        date=page_date(series.points[0].scan_date), judgement=judgement),
        latest.high_fracture_risk and _("Below the knee fracture-risk threshold (%(threshold)s g/cm²).",
                                        threshold=decimal(series.knee_threshold, 2))])


def summary(series: list[SiteSeries]) -> str:
    drawn = [s for s in series if s.points]
    if not drawn:
        return _("No DXA results yet.")
    return sentences(series_summary(s) for s in drawn)


def _bounds(series: SiteSeries) -> tuple[float, float]:
    values = [p.bmd for p in series.points]
    values += list(series.band or ())
    if series.knee_threshold is not None:
        values.append(series.knee_threshold)
    low, high = min(values), max(values)
    pad = max((high - low) * 0.15, 0.02)
    return low - pad, high + pad


def _panel(series: SiteSeries, top: float, first: date, last: date, pattern: str):
    bottom = top + PANEL - 28
    low, high = _bounds(series)

    def x_of(day: date) -> float:
        return scale(day.toordinal(), first.toordinal(), last.toordinal(), LEFT + 12, RIGHT - 12)

    def y_of(bmd: float) -> float:
        return scale(bmd, low, high, bottom, top + 16)

    parts = [text(LEFT, top + 8, side_label(series), size=12, fill=INK, font_weight="bold")]
    for value in (low + (high - low) * 0.1, (low + high) / 2, high - (high - low) * 0.1):
        y = y_of(value)
        parts.append(el("line", x1=LEFT, y1=y, x2=RIGHT, y2=y, stroke=GRID, stroke_width=0.5, stroke_dasharray="2 3"))
        parts.append(text(LEFT - 6, y + 4, decimal(value, 2), size=10, anchor="end", fill=MUTED))
    if series.band:
        band_low, band_high = series.band
        parts.append(group([el("rect", x=LEFT, y=y_of(band_high), width=RIGHT - LEFT,
                                height=y_of(band_low) - y_of(band_high), fill=f"url(#{pattern})"),
                            *(el("line", x1=LEFT, y1=y_of(v), x2=RIGHT, y2=y_of(v), stroke=MUTED, stroke_width=1,
                                 stroke_dasharray="1 2") for v in series.band)],
                           class_="lsc-band", data_low=f"{band_low:.4f}", data_high=f"{band_high:.4f}"))
    if series.knee_threshold is not None:
        y = y_of(series.knee_threshold)
        parts.append(group([el("line", x1=LEFT, y1=y, x2=RIGHT, y2=y, stroke=ALERT, stroke_width=1.5,
                               stroke_dasharray="6 3"),
                            text(LEFT + 4, y + 12, _("Knee fracture-risk threshold %(threshold)s g/cm²",
                                                     threshold=decimal(series.knee_threshold, 2)),
                                 size=10, fill=ALERT)],
                           class_="knee-threshold", data_value=f"{series.knee_threshold:.4f}"))
    points = [(x_of(p.scan_date), y_of(p.bmd)) for p in series.points]
    parts.append(path(points, stroke=DONE, stroke_width=2))
    for point, (x, y) in zip(series.points, points):
        label = _("%(date)s: %(bmd)s g/cm²", date=page_date(point.scan_date), bmd=decimal(point.bmd))
        if point.high_fracture_risk:
            marker = el("path", d=f"M{x:.1f} {y - 5:.1f} L{x + 5:.1f} {y + 4:.1f} L{x - 5:.1f} {y + 4:.1f} Z",
                        fill=ALERT, class_="point high-risk")
        else:
            marker = el("circle", cx=x, cy=y, r=4, fill=DONE, class_="point")
        parts.append(group([el("title", label), marker,
                            text(x, y - 8, decimal(point.bmd), size=10, anchor="middle", fill=INK)],
                           data_bmd=f"{point.bmd:.4f}"))
        parts.append(text(x, bottom + 16, page_date(point.scan_date), size=10, anchor="middle", fill=MUTED))
    return group(parts, class_="site", data_site=series.site, data_side=series.side)


def _legend(pattern: str, band: bool, knee: bool) -> list:
    items = [(el("circle", cx=6, cy=-4, r=4, fill=DONE), _("BMD (g/cm²)"))]
    if band:
        items.append((el("rect", x=0, y=-9, width=12, height=10, fill=f"url(#{pattern})", stroke=MUTED),
                      _("Least significant change from the baseline")))
    if knee:
        items.append((el("line", x1=0, y1=-4, x2=14, y2=-4, stroke=ALERT, stroke_width=2, stroke_dasharray="6 3"),
                      _("Knee fracture-risk threshold")))
    places = ((0, 16), (130, 16), (0, 36))
    return [group([swatch, text(18, 0, words, size=11)], class_="legend",
                  transform=f"translate({LEFT + places[i][0]} {places[i][1]})")
            for i, (swatch, words) in enumerate(items)]


def dxa_sites(series: list[SiteSeries], *, text: ChartText) -> Chart:
    words = summary(series)
    pattern = f"{text.id}-lsc"
    drawn = [s for s in series if s.points]
    height = HEADER + max(len(drawn), 1) * (PANEL + GAP)
    if not drawn:
        empty = svg.text(WIDTH / 2, height / 2, words, anchor="middle")
        return Chart(frame(text.id, WIDTH, height, text.title, words, [empty]), words)
    days = [p.scan_date for s in drawn for p in s.points]
    first, last = min(days), max(days)
    body = _legend(pattern, any(s.band for s in drawn), any(s.knee_threshold is not None for s in drawn))
    body += [_panel(s, HEADER + i * (PANEL + GAP), first, last, pattern) for i, s in enumerate(drawn)]
    defs = [hatch(pattern, GRID, spacing=8, width=0.75)]
    return Chart(frame(text.id, WIDTH, height, text.title, words, body, defs=defs), words)
