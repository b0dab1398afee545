"""Load seed/education/*.md into the database, idempotently.

Each module is one file per language (`<slug>.<lang>.md`, YAML front matter, `## ` sections).
A section that makes a claim cites its sources after the heading: `## Heading {key, key}`
(keys of references.yaml); both languages cite the same keys section by section.
A module whose files changed gets the next content_version; reading progress is kept.
"""
import hashlib
import json
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

import frontmatter
from sqlalchemy import select

from app.common.i18n import LANGUAGES
from app.common.types import utcnow
from app.common.yaml_files import SAFE_LOADER, read_yaml
from app.config import BASE_DIR
from app.education.models import EducationContent, EducationModule
from app.extensions import db

EDUCATION_DIR = BASE_DIR / "seed" / "education"
SHARED_KEYS = ("position", "tags", "references", "last_reviewed")
CITED_HEADING = re.compile(r"^(?P<heading>.*?)\s*\{(?P<keys>[a-z0-9][a-z0-9, -]*)\}\s*$")


class _FrontMatter(frontmatter.YAMLHandler):
    """python-frontmatter's YAML handler, with the parser the other seed files use."""

    def load(self, fm, **kwargs):
        kwargs.setdefault("Loader", SAFE_LOADER)
        return super().load(fm, **kwargs)


FRONT_MATTER = _FrontMatter()


class SeedError(ValueError):
    pass


def load_references(directory: Path = EDUCATION_DIR) -> dict:
    """{key: entry}; each entry also gets the `citation` and `url` the API shows."""
    entries = read_yaml(directory / "references.yaml")
    return {key: {**entry, "citation": citation(entry), "url": reference_url(entry)}
            for key, entry in entries.items()}


def citation(entry: dict) -> str:
    parts = [entry.get("authors"), entry.get("title"),
             " ".join(str(entry[k]) for k in ("journal", "year") if entry.get(k))]
    where = ";".join(str(entry[k]) for k in ("volume", "pages") if entry.get(k))
    if where:
        parts[-1] = f"{parts[-1]};{where}" if parts[-1] else where
    return ". ".join(p for p in parts if p) + "."


def reference_url(entry: dict) -> str | None:
    if entry.get("doi"):
        return f"https://doi.org/{entry['doi']}"
    if entry.get("pmid"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{entry['pmid']}/"
    return entry.get("url")


def read_modules(directory: Path = EDUCATION_DIR) -> dict[str, dict[str, frontmatter.Post]]:
    """{slug: {language: post}}, checked: every language present, shared fields agree."""
    by_slug: dict[str, dict] = defaultdict(dict)
    for path in sorted(directory.glob("*.md")):
        slug, _, language = path.stem.rpartition(".")
        if language not in LANGUAGES:
            raise SeedError(f"{path.name}: name it <slug>.<{'|'.join(LANGUAGES)}>.md")
        post = frontmatter.loads(path.read_text(encoding="utf-8"), handler=FRONT_MATTER)
        post.metadata["_raw"] = path.read_text(encoding="utf-8")
        by_slug[slug][language] = post
    for slug, posts in by_slug.items():
        missing = set(LANGUAGES) - set(posts)
        if missing:
            raise SeedError(f"module {slug} has no {', '.join(sorted(missing))} file")
        first, *others = (posts[lang] for lang in LANGUAGES)
        for key in SHARED_KEYS:
            if any(other.metadata.get(key) != first.metadata.get(key) for other in others):
                raise SeedError(f"module {slug}: '{key}' differs between languages")
        quiz_keys = [[(q["id"], q["answer"], len(q["options"])) for q in p.metadata.get("quiz", [])]
                     for p in posts.values()]
        if any(keys != quiz_keys[0] for keys in quiz_keys):
            raise SeedError(f"module {slug}: quiz ids, answers or option counts differ between languages")
        cited = [[s["references"] for s in parse_sections(p.content)] for p in posts.values()]
        if any(keys != cited[0] for keys in cited):
            raise SeedError(f"module {slug}: sections or the sources they cite differ between languages")
    return dict(by_slug)


def parse_sections(body: str) -> list[dict]:
    sections, lines = [], []
    for line in body.splitlines():
        if line.startswith("## "):
            if sections:
                sections[-1]["body"] = "\n".join(lines).strip()
            heading, keys = line[3:].strip(), []
            cited = CITED_HEADING.match(heading)
            if cited:
                heading = cited["heading"]
                keys = [k.strip() for k in cited["keys"].split(",") if k.strip()]
            sections.append({"heading": heading, "body": "", "references": keys})
            lines = []
        else:
            lines.append(line)
    if sections:
        sections[-1]["body"] = "\n".join(lines).strip()
    return sections


def _check_quiz(slug: str, quiz: list) -> list:
    if quiz and not 2 <= len(quiz) <= 4:
        raise SeedError(f"module {slug}: a quiz has 2 to 4 questions")
    for q in quiz:
        if not (2 <= len(q["options"]) <= 5 and 0 <= q["answer"] < len(q["options"]) and q.get("explanation")):
            raise SeedError(f"module {slug}: quiz question {q.get('id')} is malformed")
    return quiz


def _content(slug: str, language: str, post) -> dict:
    meta = post.metadata
    sections = parse_sections(post.content)
    if not sections:
        raise SeedError(f"module {slug} ({language}) has no '## ' sections")
    body_text = " ".join(s["heading"] + " " + s["body"] for s in sections)
    return {
        "language": language,
        "title": meta["title"],
        "summary": meta["summary"],
        "audience": meta["audience"],
        "reading_minutes": int(meta["reading_minutes"]),
        "sections": sections,
        "search_text": f"{meta['title']} {meta['summary']} {body_text}".lower(),
        "quiz": _check_quiz(slug, meta.get("quiz", [])),
    }


def load_education(directory: Path = EDUCATION_DIR) -> str:
    references = load_references(directory)
    modules = read_modules(directory)
    existing = {m.slug: m for m in db.session.scalars(select(EducationModule))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for slug, posts in modules.items():
        meta = posts[LANGUAGES[0]].metadata
        unknown = [key for key in meta.get("references", []) if key not in references]
        if not meta.get("references") or unknown:
            raise SeedError(f"module {slug}: needs references, all listed in references.yaml ({unknown})")
        uncited = {key for s in parse_sections(posts[LANGUAGES[0]].content) for key in s["references"]} \
            - set(meta["references"])
        if uncited:
            raise SeedError(f"module {slug}: sections cite {sorted(uncited)}, not in the module's references")
        refs = [{"key": key, **references[key]} for key in meta["references"]]
        digest = hashlib.sha256(
            json.dumps([posts[lang].metadata["_raw"] for lang in LANGUAGES] + [refs]).encode()
        ).hexdigest()
        module = existing.get(slug)
        if module is not None and module.content_hash == digest:
            counts["unchanged"] += 1
            continue
        if module is None:
            module = EducationModule(slug=slug, content_version=0)
            db.session.add(module)
            counts["created"] += 1
        else:
            counts["updated"] += 1
        module.content_version += 1
        module.content_hash = digest
        module.position = int(meta.get("position", 0))
        module.tags = list(meta.get("tags", []))
        module.references = refs
        module.last_reviewed = meta["last_reviewed"] if isinstance(meta["last_reviewed"], date) \
            else date.fromisoformat(str(meta["last_reviewed"]))
        module.updated_at = utcnow()
        for language, post in posts.items():
            fields = _content(slug, language, post)
            content = module.content(language)
            if content is None:
                module.contents.append(EducationContent(**fields))
            else:
                for key, value in fields.items():
                    setattr(content, key, value)
    db.session.commit()
    return "education: " + ", ".join(f"{n} {what}" for what, n in counts.items())

