"""The clinical content as a rehabilitation physician would check it: real references, cited
claims, both languages number for number, thresholds as data with their source, no clinical
number in code, no internal file name in anything a patient reads."""
import ast
import re
from pathlib import Path

import pytest
import yaml

from app.common.clinical import DEFAULT_PATH, thresholds
from app.config import BASE_DIR
from app.education.seed import EDUCATION_DIR, parse_sections, read_modules
from app.sessions import content

REFERENCES = yaml.safe_load((EDUCATION_DIR / "references.yaml").read_text(encoding="utf-8"))
REQUIRED = {
    "article": ("authors", "title", "journal", "year", "volume", "pages"),
    "guideline": ("authors", "title", "year", "url"),
    "label": ("authors", "title", "year", "url"),
    "website": ("authors", "title", "url"),
}
NUMBER = re.compile(r"\d+(?:\.\d+)?")
# A section that says what a study found, or gives a number, makes a claim.
CLAIM = re.compile(r"\d|\b(stud(y|ies)|trial|research|found|guideline|review)\b|研究|试验|指南|综述", re.I)
INTERNAL_NAME = re.compile(r"[\w/.-]+\.(md|ya?ml|py|json)\b|\bCLINICAL\b|\.\./|\bseeds?/")


# --- references ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(REFERENCES))
def test_every_reference_is_complete_or_says_what_was_not_checked(key):
    entry = REFERENCES[key]
    assert entry.get("type") in REQUIRED, key
    unverified = entry.get("unverified", "")
    missing = [f for f in REQUIRED[entry["type"]] if not entry.get(f) and f not in unverified]
    assert not missing, f"{key} lacks {missing} and does not say they were not checked"
    assert entry.get("doi") or entry.get("pmid") or entry.get("url"), f"{key}: give a DOI, a PMID or the source's page"
    if entry["type"] == "article" and not (entry.get("doi") or entry.get("pmid")):
        assert "doi" in unverified, f"{key}: an article without DOI or PMID must say it could not be checked"
    if entry.get("doi"):
        assert re.fullmatch(r"10\.\d{4,9}/\S+", entry["doi"]), key
    if entry.get("pmid"):
        assert re.fullmatch(r"\d{6,9}", entry["pmid"]), key


def test_every_reference_is_cited_somewhere():
    cited = {k for posts in read_modules().values() for k in posts["en"].metadata["references"]}
    cited |= {k for answer in content.safety_answers().values() for k in answer["references"]}
    cited |= {k for entry in thresholds().values() for k in entry.get("references", [])}
    assert set(REFERENCES) - cited == set()
    assert cited <= set(REFERENCES)


@pytest.mark.parametrize("slug", sorted(read_modules()))
def test_every_claim_bearing_section_cites_a_source(slug):
    posts = read_modules()[slug]
    module_refs = set(posts["en"].metadata["references"])
    for language, post in posts.items():
        for section in parse_sections(post.content):
            if CLAIM.search(section["heading"] + " " + section["body"]):
                assert section["references"], f"{slug} ({language}): '{section['heading']}' makes a claim, cites nothing"
            assert set(section["references"]) <= module_refs, (slug, section["heading"])


def test_the_claim_check_itself_catches_an_uncited_finding():
    sections = parse_sections("## What was found\n\nA trial of 60 people found less loss.\n\n## Tips\n\nBe kind.")
    assert [bool(CLAIM.search(s["body"])) and not s["references"] for s in sections] == [True, False]


# --- both languages, number for number ----------------------------------------------------

def _quiz_texts(post):
    return [" ".join([q["question"], *q["options"], q["explanation"]]) for q in post.metadata.get("quiz", [])]


@pytest.mark.parametrize("slug", sorted(read_modules()))
def test_both_languages_agree_number_for_number(slug):
    en, zh = read_modules()[slug]["en"], read_modules()[slug]["zh-CN"]
    pairs = list(zip(parse_sections(en.content), parse_sections(zh.content)))
    assert len(pairs) == len(parse_sections(en.content)) == len(parse_sections(zh.content))
    for a, b in pairs:
        assert sorted(NUMBER.findall(a["heading"] + a["body"])) == sorted(NUMBER.findall(b["heading"] + b["body"])), \
            (slug, a["heading"], b["heading"])
    for a, b in zip(_quiz_texts(en), _quiz_texts(zh)):
        assert sorted(NUMBER.findall(a)) == sorted(NUMBER.findall(b)), (slug, a)
    assert sorted(NUMBER.findall(en.metadata["summary"])) == sorted(NUMBER.findall(zh.metadata["summary"])), slug


def test_safety_answers_and_checklist_agree_number_for_number():
    for code, answer in content.safety_answers().items():
        en, zh = answer["en"], answer["zh-CN"]
        assert len(en["steps"]) == len(zh["steps"]), code
        for a, b in zip(en["steps"] + [en["title"]], zh["steps"] + [zh["title"]]):
            assert sorted(NUMBER.findall(a)) == sorted(NUMBER.findall(b)), (code, a)
        assert set(en.get("conditions", {})) == set(zh.get("conditions", {}))
    for symptom in yaml.safe_load((content.SEED / "symptoms.yaml").read_text(encoding="utf-8")):
        label = symptom["label"]
        assert re.findall(r"\{\w+\}", label["en"]) == re.findall(r"\{\w+\}", label["zh-CN"]), symptom["code"]


# --- thresholds as data -------------------------------------------------------------------

def test_every_threshold_has_its_source_and_says_when_it_is_local_policy():
    data = yaml.safe_load(Path(DEFAULT_PATH).read_text(encoding="utf-8"))
    for name, entry in data.items():
        assert {"value", "meaning", "basis", "source"} <= set(entry), name
        assert entry["basis"] in ("evidence", "derived", "local-policy"), name
        assert all(key in REFERENCES for key in entry.get("references", [])), name
        if entry["basis"] == "evidence":
            assert entry["references"], f"{name}: evidence needs its references"
        if entry["basis"] in ("derived", "local-policy"):
            assert entry.get("note"), f"{name}: say how it was derived or why it is a local choice"
    assert data["recent_fracture_months"]["basis"] == "local-policy"
    for name in ("autonomic_dysreflexia_systolic_rise_mmhg", "orthostatic_systolic_drop_mmhg",
                 "orthostatic_diastolic_drop_mmhg", "knee_bmd_fracture_risk_g_cm2", "lsc_distal_femur_g_cm2",
                 "lsc_proximal_tibia_g_cm2", "lsc_total_hip_percent", "skin_redness_pressure_minutes",
                 "skin_redness_fes_electrode_hours", "dxa_repeat_after_treatment_months",
                 "dxa_follow_up_min_years", "dxa_follow_up_max_years", "recent_clot_months"):
        assert name in data, name


def test_patient_texts_take_their_numbers_from_the_thresholds():
    answer = content.alert_view("check_blood_pressure", "en")
    high, low = answer["branches"]
    rise = thresholds()["autonomic_dysreflexia_systolic_rise_mmhg"]["value"]
    drops = (thresholds()["orthostatic_systolic_drop_mmhg"]["value"], thresholds()["orthostatic_diastolic_drop_mmhg"]["value"])
    assert f"{rise} mmHg" in high["condition"] and all(str(v) in low["condition"] for v in drops)
    assert all("{" not in step for step in answer["steps"] + high["steps"] + low["steps"])


CLINICAL_WORDS = re.compile(
    r"fracture|clot|dvt|dysreflexia|systolic|diastolic|mmhg|bmd|lsc|dxa|t_?score|z_?score|skin|redness|"
    r"orthostatic|pressure|calcium|dose|months|weeks|level|adheren|monitoring", re.I)
TEXT_NUMBER = re.compile(r"\b\d+(\.\d+)?\s*(mmHg|g/cm|mg\b|IU\b|months? after|hours? a week)")
LEVEL = re.compile(r"^[CTLS]\d{1,2}$")


def _names(node) -> str:
    return " ".join(n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
                    if isinstance(n, (ast.Name, ast.Attribute)))


def _numbers(nodes) -> list:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and type(n.value) in (int, float)
            and n.value not in (0, 1)]


def clinical_numbers_in(source: str) -> list[str]:
    """Clinical-looking numbers in Python source: a literal (other than 0 or 1) compared with,
    assigned to or computed with something named like a clinical quantity; a string with a
    clinical unit; a neurological level passed to a level check."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and TEXT_NUMBER.search(node.value):
            found.append(node.value)
        elif isinstance(node, ast.Compare):
            numbers = _numbers(ast.walk(node))
            if numbers and CLINICAL_WORDS.search(_names(node)):
                found.append(f"{_names(node)}: {numbers}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = " ".join(_names(t) for t in targets)
            if _numbers([node.value]) and CLINICAL_WORDS.search(names):
                found.append(f"{names}: {node.value.value}")
        elif isinstance(node, ast.BinOp):
            numbers = _numbers([node.left, node.right])
            if numbers and CLINICAL_WORDS.search(_names(node)):
                found.append(f"{_names(node)}: {numbers}")
        elif isinstance(node, ast.Call) and "level" in _names(node.func).lower():
            found += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                      and LEVEL.match(a.value)]
    return found


def test_no_clinical_number_in_code():
    offenders = {}
    for path in sorted((BASE_DIR / "app").rglob("*.py")):
        found = clinical_numbers_in(path.read_text(encoding="utf-8"))
        if found:
            offenders[str(path.relative_to(BASE_DIR))] = found
    assert offenders == {}, "clinical numbers belong in seed/clinical/thresholds.yaml"


@pytest.mark.parametrize("source", [
    "if systolic_rise > 20:\n    alert()",
    "RECENT_FRACTURE_MONTHS = 12",
    "message = 'Knee BMD below 0.60 g/cm2 is high risk'",
    "warn = level_at_or_above(level, 'T6')",
    "since = today - timedelta(days=months * 30)",
])
def test_the_code_check_catches_a_clinical_number(source):
    assert clinical_numbers_in(source)


def test_the_code_check_lets_plain_numbers_through():
    assert clinical_numbers_in("page = max(1, page)\nPER_PAGE = 100\nretries = 3") == []


# --- what a patient reads -----------------------------------------------------------------

def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _patient_texts():
    for posts in read_modules().values():
        for post in posts.values():
            yield post.content
            yield " ".join(str(post.metadata.get(k, "")) for k in ("title", "summary", "audience"))
            yield from _quiz_texts(post)
    for code in content.safety_answers():
        for language in ("en", "zh-CN"):
            view = content.alert_view(code, language)
            yield " ".join([view["title"], view["source"], view["card"] or "", *view["steps"]])
            for branch in view["branches"]:
                yield " ".join([branch["condition"], *branch["steps"]])
            yield " ".join(r["citation"] for r in view["references"])
    for symptom in content.symptoms():
        yield " ".join(symptom["label"].values())
    for name in ("exercises/exercises.yaml", "plans/templates.yaml", "sessions/weekly_messages.yaml"):
        yield from _strings(yaml.safe_load((BASE_DIR / "seed" / name).read_text(encoding="utf-8")))
    for entry in thresholds().values():
        yield entry["source"]


def test_patient_texts_never_show_internal_file_names():
    leaks = [m.group(0) for text in _patient_texts() for m in [INTERNAL_NAME.search(text)] if m]
    assert leaks == []
