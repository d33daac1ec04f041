"""Copy the benchmark tables (benchmarks/results/*.md) into README.md between their markers.

README.md holds blocks ``<!-- BEGIN results/NAME.md -->`` ... ``<!-- END results/NAME.md -->``;
this replaces each block's body with the current file, so the README shows exactly what the
last benchmark run wrote. The file's title is dropped and its other headings move two levels
down, to nest under the README's own.

    python benchmarks/update_readme.py
"""

from __future__ import annotations

import re
import sys

from _common import RESULTS, ROOT

BLOCK = re.compile(r"(<!-- BEGIN results/(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- END results/"
                   r"(?P=name) -->)", re.S)
TITLE = re.compile(r"\A# .*\n")
HEADING = re.compile(r"^(#+ )", re.M)


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    missing = []

    def fill(match: re.Match) -> str:
        path = RESULTS / match["name"]
        if not path.exists():
            missing.append(match["name"])
            return match[0]
        body = TITLE.sub("", path.read_text(), count=1).strip("\n")
        body = HEADING.sub(lambda h: "##" + h[1], body)
        return match[1] + body + "\n" + match[4]

    new = BLOCK.sub(fill, text)
    readme.write_text(new)
    for name in missing:
        print(f"no benchmarks/results/{name}: block left as it was", file=sys.stderr)
    print(f"updated {readme.name} ({len(BLOCK.findall(text))} blocks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
