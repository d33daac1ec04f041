"""Copy the benchmark tables (benchmarks/results/*.md) into the documentation.

README.md and every Markdown page under docs/ may hold blocks
``<!-- BEGIN results/NAME.md -->`` ... ``<!-- END results/NAME.md -->``; this replaces each
block's body with the current file, so the pages show exactly what the last benchmark run
wrote. The file's title is dropped, its other headings nest one level under the heading the
block sits below, and its image links are rewritten relative to the page.

    python benchmarks/update_readme.py
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from _common import RESULTS, ROOT

BLOCK = re.compile(r"(<!-- BEGIN results/(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- END results/"
                   r"(?P=name) -->)", re.S)
TITLE = re.compile(r"\A# .*\n")
HEADING = re.compile(r"^(#+) ", re.M)
LINK = re.compile(r"\]\((?!https?:|/|#)([^)]+)\)")


def pages() -> list[Path]:
    """README.md and the documentation pages."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _level_above(text: str, pos: int) -> int:
    """Level of the last Markdown heading before ``pos`` (0 if none)."""
    levels = [len(m[1]) for m in HEADING.finditer(text, 0, pos)]
    return levels[-1] if levels else 0


def fill(page: Path, missing: list[str]) -> int:
    """Refresh the blocks of one page; returns how many it has."""
    text = page.read_text()
    # Links in results files are relative to the repository root.
    prefix = Path(os.path.relpath(ROOT, page.parent))

    def body(match: re.Match) -> str:
        path = RESULTS / match["name"]
        if not path.exists():
            missing.append(f"{page.relative_to(ROOT)}: results/{match['name']}")
            return match[0]
        content = TITLE.sub("", path.read_text(), count=1).strip("\n")
        # A results file's sections are "##": they become one level below the page's heading.
        extra = "#" * max(0, _level_above(text, match.start()) - 1)
        content = HEADING.sub(lambda h: extra + h[1] + " ", content)
        content = LINK.sub(lambda m: f"]({(prefix / m[1]).as_posix()})", content)
        return match[1] + content + "\n" + match[4]

    new = BLOCK.sub(body, text)
    if new != text:
        page.write_text(new)
    return len(BLOCK.findall(text))


def main() -> int:
    missing: list[str] = []
    counts = {page: fill(page, missing) for page in pages()}
    for entry in missing:
        print(f"no benchmarks/{entry.split(': ')[1]} for {entry.split(': ')[0]}: block left as "
              "it was", file=sys.stderr)
    done = ", ".join(f"{p.relative_to(ROOT)} ({n})" for p, n in counts.items() if n)
    print(f"updated blocks in {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
