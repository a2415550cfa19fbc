"""Code in the docs that is marked as an excerpt of a file in the repository must be in that file.

A fenced code block preceded by the line

    <!-- excerpt: path/from/the/repository/root -->

is an excerpt: each run of its lines between lines `...` must appear verbatim, in order, in that
file. So the docs quote the example package instead of copying it, and cannot drift from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
EXCERPT = re.compile(
    r"^<!-- excerpt: (?P<path>\S+) -->\n```[\w-]*\n(?P<body>.*?)^```$", re.M | re.S
)
MARKER = re.compile(r"^<!-- excerpt:", re.M)


def excerpts() -> list[tuple[str, str, str]]:
    """(doc, path, body) of every marked block of every doc."""
    found = []
    for doc in DOCS:
        for match in EXCERPT.finditer(doc.read_text()):
            found.append((doc.name, match["path"], match["body"]))
    return found


def pieces(body: str) -> list[str]:
    """The runs of lines between `...` lines (the omissions)."""
    runs, current = [], []
    for line in body.splitlines():
        if line.strip() == "...":
            runs.append(current)
            current = []
        else:
            current.append(line)
    runs.append(current)
    return ["\n".join(run) + "\n" for run in runs if run]


def test_every_marker_introduces_a_fenced_block() -> None:
    for doc in DOCS:
        text = doc.read_text()
        assert len(MARKER.findall(text)) == len(EXCERPT.findall(text)), (
            f"{doc.name}: an '<!-- excerpt: PATH -->' line not directly followed by a fenced block"
        )


def test_custom_envs_quotes_the_example_package() -> None:
    paths = {path for doc, path, _ in excerpts() if doc == "custom_envs.md"}
    assert {
        "examples/my_tasks/my_tasks/envs.py",
        "examples/my_tasks/my_tasks/__init__.py",
        "examples/my_tasks/pyproject.toml",
    } <= paths


@pytest.mark.parametrize(("doc", "path", "body"), excerpts(), ids=lambda v: str(v)[:40])
def test_excerpt_is_verbatim_in_its_file(doc: str, path: str, body: str) -> None:
    source = ROOT / path
    assert source.is_file(), f"{doc} quotes {path}, which does not exist"
    text = source.read_text()
    position = 0
    for piece in pieces(body):
        found = text.find(piece, position)
        assert found >= 0, (
            f"{doc}: this excerpt is not (or no longer, in this order) in {path}; copy it again "
            f"from the file:\n{piece}"
        )
        position = found + len(piece)
