"""The README and docs/ stay true to the repository: links, settings, make targets, references.

A newcomer follows the README's links, sets the variables docs/configuration.md lists and
runs the make targets the docs name; each of those must exist. And the code's comments
point to the rules in docs/, never to a document outside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import settings_table

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
CONFIGURATION = ROOT / "docs" / "configuration.md"

LINK = re.compile(r"\]\(([^)\s]+)\)")
SETTING = re.compile(r"\b(?:SHIFTFILL|TWILIO)_[A-Z0-9_]*[A-Z0-9]\b")
SETTING_LITERAL = re.compile(r"""["']((?:SHIFTFILL|TWILIO)_[A-Z0-9_]+)["']""")
MAKE_COMMAND = re.compile(r"(?:`|^)make ([a-z][\w-]*)", re.M)
MAKE_TARGET = re.compile(r"^([a-z][\w-]*):", re.M)
# Built from parts so that this file does not match itself.
OUTSIDE_REFERENCE = re.compile(
    "|".join(
        [
            "contract" + " section",
            r"section \d+ of the contract",
            r"invariants? \d",
            r"\.\./" + "shared",
        ]
    ),
    re.I,
)


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings."""
    found = set()
    for heading in re.findall(r"^#+ +(.+?) *$", text(path), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def code_files() -> list[Path]:
    files = [ROOT / "wsgi.py", ROOT / "Makefile"]
    for folder in ("shiftfill", "config", "deploy", "bench", "tests"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".template"}]
    return files


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    for target in LINK.findall(text(page)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(linked), f"{page.name} links to {target}: no such heading"


def test_every_setting_the_code_reads_is_documented_with_its_bounds() -> None:
    rows = {
        name: accepted
        for name, accepted in re.findall(
            r"^\| `([A-Z_]+)` \| [^|]* \| ([^|]*) \|", text(CONFIGURATION), re.M
        )
    }
    for setting in settings_table():
        assert setting.env in rows, f"add {setting.env} to docs/configuration.md"
        assert rows[setting.env] == setting.bounds(), (
            f"docs/configuration.md: {setting.env} accepts {setting.bounds()}"
        )
    readers = [ROOT / "wsgi.py", *(ROOT / "config").rglob("*.py"), *(ROOT / "deploy").rglob("*.py")]
    read = {name for path in readers for name in SETTING_LITERAL.findall(text(path))}
    assert read - set(rows) == set(), "add these to docs/configuration.md"


def test_every_setting_the_docs_name_exists_in_the_code() -> None:
    code = "\n".join(text(path) for path in code_files())
    for page in PAGES:
        for name in set(SETTING.findall(text(page))):
            assert name in code, f"{page.name} names {name}, which no code reads"


def test_every_make_target_the_docs_name_exists() -> None:
    targets = set(MAKE_TARGET.findall(text(ROOT / "Makefile")))
    for page in PAGES:
        for target in MAKE_COMMAND.findall(text(page)):
            assert target in targets, f"{page.name} names make {target}, which the Makefile lacks"


def test_comments_and_docs_point_inside_the_repository() -> None:
    this = Path(__file__).resolve()
    for path in [*code_files(), *PAGES]:
        if path.resolve() == this:
            continue
        for number, line in enumerate(text(path).splitlines(), 1):
            assert not OUTSIDE_REFERENCE.search(line), (
                f"{path.relative_to(ROOT)}:{number} cites a document outside the repository; "
                "point to docs/ instead (docs/invariants.md numbers the rules I1 to I8)"
            )
