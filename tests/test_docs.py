"""The design notes the code cites live in the repository, and the README's Code map follows the wiring.

A citation names a file under docs/ and, optionally, one of its headings as GitHub renders the
anchor: `docs/mitmproxy.md#hook-order`. Every citation in the repository's code, configs and
Markdown must resolve; section numbers of notes that are not in the repository ("§3.1",
"mitmproxy-notes") may not come back.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
THIS = Path(__file__).resolve()

TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".cfg", ".ini", ".cjs", ".js", ".txt"}
TEXT_NAMES = {"Dockerfile", "run", "run.sh"}
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}

CITATION = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")
# The research notes the code once cited by section number; they are not in the repository.
MISSING_NOTES = re.compile(r"mitmproxy-notes|wire-formats|seed-README|observability\.md|providers\.md|style\.md|anchors §")
SECTION_SIGN = re.compile(r"§\s*\d")
EXTERNAL_SPEC = re.compile(r"\bRFC \d+ §[\d.]+")  # a published spec's section is fine
TRAP = re.compile(r"\btraps? \d", re.IGNORECASE)
TRAPS_DOC = "docs/gemini-wire-format.md#traps"
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def repo_text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        if path.is_file() and path != THIS and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            files.append(path)
    return sorted(files)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    found: set[str] = set()
    in_fence = False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        elif not in_fence and (m := re.match(r"#{1,6} (.+)", line)):
            base = slug(m.group(1))
            name, n = base, 0
            while name in found:  # GitHub numbers repeated headings: x, x-1, x-2
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def citation_problems(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    rel = path.relative_to(ROOT)
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{number}"
        for m in CITATION.finditer(line):
            doc, anchor = DOCS / m.group(1), m.group(2)
            if not doc.is_file():
                problems.append(f"{where}: cites {m.group(0)}, but docs/{m.group(1)} does not exist")
            elif anchor and anchor not in anchors(doc):
                problems.append(f"{where}: cites {m.group(0)}, but docs/{m.group(1)} has no heading with that anchor")
        if MISSING_NOTES.search(line):
            problems.append(f"{where}: cites notes that are not in the repository: {line.strip()}")
        elif SECTION_SIGN.search(EXTERNAL_SPEC.sub("", line)):
            problems.append(f"{where}: a bare section number; cite docs/<file>.md#<anchor> instead: {line.strip()}")
        if TRAP.search(line) and TRAPS_DOC not in text:
            problems.append(f"{where}: names a trap by number but the file never cites {TRAPS_DOC}")
    return problems


def link_problems(markdown: Path) -> list[str]:
    """Relative links of a Markdown file: the file exists, and so does the heading."""
    problems = []
    rel = markdown.relative_to(ROOT)
    for m in MARKDOWN_LINK.finditer(markdown.read_text(encoding="utf-8")):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (markdown.parent / file_part).resolve() if file_part else markdown
        if not linked.exists():
            problems.append(f"{rel}: links to {target}, which does not exist")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{rel}: links to {target}, but {linked.name} has no heading with that anchor")
    return problems


def test_every_citation_resolves_to_a_doc_and_heading_in_the_repository() -> None:
    problems = [p for path in repo_text_files() for p in citation_problems(path)]
    assert not problems, "\n".join(problems)


def test_the_docs_and_readme_link_only_to_files_and_headings_that_exist() -> None:
    problems = [p for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))] for p in link_problems(path)]
    assert not problems, "\n".join(problems)


def test_the_code_cites_the_design_notes() -> None:
    cited = {m.group(1) for path in repo_text_files() for m in CITATION.finditer(path.read_text(encoding="utf-8", errors="replace"))}
    assert {path.name for path in DOCS.glob("*.md")} <= cited, "a note in docs/ that nothing cites has lost its reason to be there"


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("# Gemini's limit (wire-formats §1.2).", "not in the repository"),
        ("# see docs/mitmproxy.md#no-such-heading", "no heading with that anchor"),
        ("# see docs/no-such-note.md", "does not exist"),
        ("# the request mapping (§3.1)", "bare section number"),
        ("# counted across the stream (trap 4)", "names a trap by number"),
    ],
)
def test_a_broken_citation_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, complaint: str) -> None:
    source = tmp_path / "module.py"
    source.write_text(f"{line}\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    problems = citation_problems(source)
    assert len(problems) == 1 and complaint in problems[0]


def test_fine_citations_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "# docs/mitmproxy.md#hook-order, docs/gemini-wire-format.md#request-mapping\n"
        "# trap 4 in docs/gemini-wire-format.md#traps; RFC 9111 §5.4\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert citation_problems(source) == []


def test_slug_follows_github() -> None:
    assert slug("allow_hosts is global") == "allow_hosts-is-global"
    assert slug("Dependencies: the h11 pin") == "dependencies-the-h11-pin"
    assert slug("generateContent request") == "generatecontent-request"
    assert slug("Proxy mode: unmodified apps") == "proxy-mode-unmodified-apps"


# The README's Code map --------------------------------------------------------------------


def wired_addon_classes() -> list[str]:
    """The class of every entry of the first `addons = [...]` in addons/router.py, in order (the
    Pipeline that then holds them is what mitmproxy sees)."""
    tree = ast.parse((ROOT / "addons" / "router.py").read_text(encoding="utf-8"))
    built: dict[str, str] = {}
    entries: list[ast.expr] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "addons" and isinstance(node.value, ast.List) and not entries:
                entries = node.value.elts
            elif isinstance(node.value, ast.Call):
                built[name] = called_name(node.value)
    assert entries, "addons/router.py has no `addons = [...]` list"
    return [called_name(e) if isinstance(e, ast.Call) else built[e.id] for e in entries if isinstance(e, ast.Call | ast.Name)]


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ast.unparse(func)


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert m, f'README.md has no "## {title}" section'
    return m.group(1)


def test_the_code_map_lists_every_wired_addon_in_order() -> None:
    code_map = readme_section("Code map")
    wired = wired_addon_classes()
    assert len(wired) > 10
    missing = [name for name in wired if f"`{name}`" not in code_map]
    assert not missing, f"README Code map does not list {missing}, which addons/router.py wires"
    positions = [code_map.index(f"`{name}`") for name in wired]
    assert positions == sorted(positions), f"README Code map lists the addons in another order than addons/router.py: {wired}"


def test_the_contents_list_the_code_map() -> None:
    assert "- [Code map](#code-map)" in readme_section("Contents")
