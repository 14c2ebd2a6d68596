"""README.md and docs/*.md: every relative link and #anchor resolves, and the README stays short.

Anchors are GitHub's heading slugs. Links inside code (fenced blocks, `inline`) are not links.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README_MAX_BYTES = 12 * 1024

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def heading_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's slug in a Markdown file; repeated headings get -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    slugs = set()
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    for line in lines:
        match = HEADING.match(line)
        if not match:
            continue
        slug = heading_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        slugs.add(slug if count == 0 else f"{slug}-{count}")
    return slugs


def broken_links(path: Path) -> list[str]:
    """`file: target (why)` for each relative link or anchor in `path` that does not resolve."""
    broken = []
    for line in prose_lines(path.read_text()):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{path.name}: {target} (no heading #{anchor} in {linked.name})")
    return broken


def test_docs_exist():
    names = {path.name for path in documents()}
    assert {"README.md", "results.md", "configuration.md", "runs.md", "evaluation.md"} <= names


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.relative_to(REPO).as_posix())
def test_every_relative_link_and_anchor_resolves(path):
    broken = broken_links(path)
    assert not broken, "\n".join(broken)


def test_readme_is_short():
    size = (REPO / "README.md").stat().st_size
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move depth into docs/"


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## `algo=pg` and `algo=ppo`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md#algopg-and-algoppo) [fine](#page) [web](https://example.com/x#y)\n"
        "[gone](missing.md) [no heading](other.md#nowhere) [no heading here](#nowhere)\n"
        "```\n[in code](missing-too.md)\n```\n"
    )
    assert broken_links(page) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#nowhere (no heading #nowhere in other.md)",
        "page.md: #nowhere (no heading #nowhere in page.md)",
    ]


def test_heading_slugs_follow_github():
    assert heading_slug("`algo=pg` and `algo=ppo`") == "algopg-and-algoppo"
    assert heading_slug("Export a policy as a SMARTS agent (no Ray)") == "export-a-policy-as-a-smarts-agent-no-ray"
    assert heading_slug("SMARTS 2.0.1 workarounds") == "smarts-201-workarounds"
    assert heading_slug("The files in bench/results/") == "the-files-in-benchresults"
