"""Charts drawn on the server as SVG: numbers in, markup out (no database, no request).

Each returns a Chart: inline-ready SVG with a title and a description, and a plain-language
summary in the page's language (Flask-Babel's locale) for the text or table next to it."""
from app.console.charts.data import Chart, ChartText, DxaPoint, SiteSeries, WeekPoint
from app.console.charts.dxa import dxa_sites
from app.console.charts.sparkline import sparkline
from app.console.charts.weekly import weekly_adherence

__all__ = ["Chart", "ChartText", "DxaPoint", "SiteSeries", "WeekPoint", "dxa_sites", "sparkline",
           "weekly_adherence"]
