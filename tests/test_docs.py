"""Every Python snippet of README.md and docs/ runs as written, so do the examples in the
package's docstrings, every run spec validates, every relative link points at a file that
exists.

Snippets of one page run in order in one namespace, in a fresh folder, like the cells of a
notebook. A snippet preceded by ``<!-- snippet: slow -->`` runs in its own test marked slow,
after the page's other snippets above it; later snippets must not need its names. A TOML
block with a ``[sweep]`` table is a run spec, checked with ``load_spec``.
"""

from __future__ import annotations

import doctest
import importlib
import re
import tomllib
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SNIPPET = re.compile(r"(?:<!-- snippet: (?P<mark>\w+) -->\n)?```python\n(?P<code>.*?)```", re.S)
SPEC = re.compile(r"```toml\n(?P<code>.*?)```", re.S)
LINK = re.compile(r"\]\((?!https?:|#|mailto:)(?P<path>[^)#\s]+)(?:#[^)]*)?\)")


def snippets(page: Path) -> list[tuple[str | None, str, int]]:
    """(mark, code, line) of each Python snippet of ``page``."""
    text = page.read_text()
    return [(m["mark"], m["code"], text.count("\n", 0, m.start("code")) + 1)
            for m in SNIPPET.finditer(text)]


def run(code: str, page: Path, line: int, namespace: dict) -> None:
    # Line numbers of the page in tracebacks.
    exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


FAST = [pytest.param(p, id=_name(p)) for p in PAGES if snippets(p)]
SLOW = [pytest.param(p, i, id=f"{_name(p)}:{line}", marks=pytest.mark.slow)
        for p in PAGES for i, (mark, _, line) in enumerate(snippets(p)) if mark == "slow"]


@pytest.fixture(autouse=True)
def fresh_folder(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)


def test_snippet_marks_are_known():
    for page in PAGES:
        for mark, _, line in snippets(page):
            assert mark in (None, "slow"), f"{_name(page)}:{line}: unknown mark {mark!r}"


@pytest.mark.parametrize("page", FAST)
def test_page_snippets_run(page):
    namespace: dict = {"__name__": "__main__"}
    for mark, code, line in snippets(page):
        if mark != "slow":
            run(code, page, line, namespace)


@pytest.mark.parametrize("page, index", SLOW)
def test_slow_snippet_runs(page, index):
    namespace: dict = {"__name__": "__main__"}
    for i, (mark, code, line) in enumerate(snippets(page)[: index + 1]):
        if mark != "slow" or i == index:
            run(code, page, line, namespace)


SPECS = [pytest.param(m["code"], id=f"{_name(p)}:{p.read_text().count(chr(10), 0, m.start())}")
         for p in PAGES for m in SPEC.finditer(p.read_text()) if "[sweep]" in m["code"]]


@pytest.mark.parametrize("code", SPECS)
def test_run_specs_validate(code):
    from eag_augment.pipelines import load_spec

    load_spec(tomllib.loads(code))


@pytest.mark.parametrize("page", [pytest.param(p, id=_name(p)) for p in PAGES])
def test_relative_links_point_at_files(page):
    text = page.read_text()
    broken = [f"line {text.count(chr(10), 0, m.start()) + 1}: {m['path']}"
              for m in LINK.finditer(text) if not (page.parent / m["path"]).exists()]
    assert not broken, f"{_name(page)}: " + "; ".join(broken)


EXAMPLES = [pytest.param(".".join(p.relative_to(ROOT).with_suffix("").parts), id=_name(p))
            for p in sorted((ROOT / "eag_augment").rglob("*.py")) if ">>>" in p.read_text()]


@pytest.mark.parametrize("module", EXAMPLES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed
