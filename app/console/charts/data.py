"""What the charts draw: plain numbers, gathered by app/console/figures.py."""
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup


@dataclass(frozen=True)
class Chart:
    svg: Markup      # inline-ready <svg>, its <title> and <desc> included
    summary: str     # the same in a sentence or two, for the text next to the chart


@dataclass(frozen=True)
class ChartText:
    """The page's words for one chart: `id` (unique on the page) names its title and desc."""

    id: str
    title: str


@dataclass(frozen=True)
class WeekPoint:
    """One Monday-Sunday week as the adherence service counts it (to date for the current week)."""

    week_start: date
    planned_sessions: int
    done_sessions: int
    prescribed_minutes: int
    done_minutes: int
    complete: bool = True

    @property
    def rate(self) -> float | None:
        return self.done_sessions / self.planned_sessions if self.planned_sessions else None


@dataclass(frozen=True)
class DxaPoint:
    scan_date: date
    bmd: float               # g/cm2
    high_fracture_risk: bool  # app/dxa/content.high_fracture_risk


@dataclass(frozen=True)
class SiteSeries:
    """One site and side over time, oldest first, with what the chart draws around it."""

    site: str
    side: str
    points: tuple[DxaPoint, ...]
    band: tuple[float, float] | None       # the least significant change around the baseline, g/cm2
    knee_threshold: float | None           # knee sites only
    change_from_baseline: str | None = None  # app/dxa/content.change judgement of latest against baseline
