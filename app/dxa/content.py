"""DXA seed data (protocol, explanations) and the pure rules: change against the least
significant change, the knee threshold, the next follow-up date."""
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from app.common.clinical import threshold, thresholds
from app.common.i18n import long_date, named_in
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR
from app.dxa.models import KNEE_SITES

SEED_DIR = BASE_DIR / "seed" / "dxa"
MILLI = Decimal("0.001")
PERCENT = 100
YEAR = 12  # months


@lru_cache(maxsize=1)
def protocol() -> dict:
    return read_yaml(SEED_DIR / "protocol.yaml")


def site_name(site: str, language: str) -> str:
    """A site's clinical name in language; an unknown site as it is."""
    return named_in(protocol()["site_names"].get(site), language, site)


def site_on_side(site: str, side: str | None, language: str) -> str:
    """"Distal femur, left", "股骨远端（左）"; a site without a side by its name alone."""
    pattern = protocol()["site_on_side"].get(side)
    name = site_name(site, language)
    return named_in(pattern, language, "{site}").format(site=name) if pattern else name


def kind_in_text(kind: str, language: str) -> str:
    """A follow-up's kind as a sentence names it before its word for scan; an unknown kind as it is."""
    return named_in(protocol()["kind_in_text"].get(kind), language, kind)


@lru_cache(maxsize=1)
def explanations() -> dict:
    return read_yaml(SEED_DIR / "explanations.yaml")


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def _centre_key(centre: str | None) -> str:
    return " ".join((centre or "").split()).casefold()


# Each site's default least significant change: a threshold, in g/cm2 or in percent.
_SITE_LSC = {"distal_femur": "lsc_distal_femur_g_cm2", "proximal_tibia": "lsc_proximal_tibia_g_cm2",
             "total_hip": "lsc_total_hip_percent", "femoral_neck": "lsc_femoral_neck_percent",
             "lumbar_spine": "lsc_lumbar_spine_percent"}


def lsc_for(site: str, centre: str | None) -> dict:
    """The least significant change at site for results from centre: {value, unit, source}.
    A centre's own (dxa_centre_lsc: lsc, or precision x dxa_lsc_multiplier) comes first."""
    centres = {_centre_key(name): sites for name, sites in (threshold("dxa_centre_lsc") or {}).items()}
    own = (centres.get(_centre_key(centre)) or {}).get(site)
    if own:
        value = _dec(own["lsc"]) if "lsc" in own else _dec(own["precision"]) * _dec(threshold("dxa_lsc_multiplier"))
        return {"value": value, "unit": own["unit"], "source": own["source"]}
    key = _SITE_LSC[site]
    return {"value": _dec(threshold(key)), "unit": "g/cm2" if key.endswith("_g_cm2") else "%",
            "source": thresholds()[key]["source"]}


def knee_threshold() -> Decimal:
    return _dec(threshold("knee_bmd_fracture_risk_g_cm2"))


def high_fracture_risk(site: str, bmd: float) -> bool:
    return site in KNEE_SITES and _dec(bmd) < knee_threshold()


def _same_machine(a, b) -> bool:
    if a.machine and b.machine:
        return _centre_key(a.machine) == _centre_key(b.machine)
    return True  # unknown: compare, as the clinic entered it


def lsc_width(site: str, centre: str | None, bmd: float) -> float:
    """The least significant change around bmd, in g/cm2: the centre's LSC for the site, given in
    g/cm2 or in percent of the value (as change() judges it)."""
    lsc = lsc_for(site, centre)
    return float(lsc["value"]) if lsc["unit"] == "g/cm2" else float(bmd) * float(lsc["value"]) / PERCENT


def change(current, previous) -> dict | None:
    """The change from previous (same site and side, earlier scan) to current, judged against the
    least significant change of the current scan's centre. None for a first scan."""
    if previous is None:
        return None
    delta = (_dec(current.bmd) - _dec(previous.bmd)).quantize(MILLI, ROUND_HALF_UP)
    percent_exact = delta / _dec(previous.bmd) * PERCENT
    lsc = lsc_for(current.site, current.centre)
    magnitude = abs(delta) if lsc["unit"] == "g/cm2" else abs(percent_exact)
    significant = magnitude >= lsc["value"]
    if not _same_machine(current, previous):
        judgement = "not_comparable"
    elif not significant:
        judgement = "no_real_change"
    else:
        judgement = "real_loss" if delta < 0 else "real_gain"
    return {
        "previous_result_id": previous.id, "previous_scan_date": previous.scan_date,
        "delta_g_cm2": float(delta), "percent": float(percent_exact.quantize(Decimal("0.1"), ROUND_HALF_UP)),
        "lsc": {"value": float(lsc["value"].quantize(Decimal("0.0001"), ROUND_HALF_UP)), "unit": lsc["unit"],
                "source": lsc["source"]},
        "significant": significant, "judgement": judgement,
    }


def _lsc_text(lsc: dict) -> str:
    return f"{lsc['value']:.3f} g/cm²" if lsc["unit"] == "g/cm2" else f"{lsc['value']:.1f}%"


def explanation(result, result_change: dict | None, language: str) -> str:
    texts = explanations()
    site = texts["sites"][result.site][language]
    if result_change is None:
        parts = [texts["baseline"][language].format(site=site)]
    else:
        judgement = result_change["judgement"]
        signed = judgement == "no_real_change"
        delta, percent = result_change["delta_g_cm2"], result_change["percent"]
        parts = [texts[judgement][language].format(
            site=site, previous_date=long_date(result_change["previous_scan_date"], language),
            delta=f"{delta:+.3f}" if signed else f"{abs(delta):.3f}",
            percent=f"{percent:+.1f}" if signed else f"{abs(percent):.1f}",
            lsc=_lsc_text(result_change["lsc"]))]
    if high_fracture_risk(result.site, result.bmd):
        parts.append(texts["knee_high_risk"][language].format(threshold=f"{knee_threshold():.2f}"))
    return " ".join(parts) if language == "en" else "".join(parts)


# --- the protocol: when the next scan is due -----------------------------------------------

@dataclass(frozen=True)
class NextScan:
    kind: str
    due_date: date


def repeat_after_months() -> int:
    return threshold("dxa_repeat_after_treatment_months")


def default_interval_months() -> int:
    return threshold("dxa_follow_up_default_months")


def interval_bounds() -> tuple[int, int]:
    return threshold("dxa_follow_up_min_years") * YEAR, threshold("dxa_follow_up_max_years") * YEAR


def protocol_steps() -> dict:
    """The protocol's steps as seeded, with the numbers the thresholds give them."""
    steps = protocol()["steps"]
    low, high = interval_bounds()
    return {"baseline": {"when": steps["baseline"]},
            "repeat": {"when": steps["repeat"], "after_months": repeat_after_months()},
            "interval": {"when": steps["interval"], "min_months": low, "max_months": high,
                         "default_months": default_interval_months()}}


def next_scan(scan_dates: list[date], medically_stable_on: date | None, treatment_started_on: date | None,
              interval_months: int) -> NextScan | None:
    """Baseline when medically stable; a repeat after 12 months of treatment; then every interval."""
    if not scan_dates:
        return NextScan("baseline", medically_stable_on) if medically_stable_on else None
    last = max(scan_dates)
    if len(set(scan_dates)) == 1:
        start = treatment_started_on if treatment_started_on else last
        due = start + relativedelta(months=repeat_after_months())
        return NextScan("repeat", max(due, last + relativedelta(days=1)))
    return NextScan("interval", last + relativedelta(months=interval_months))
