"""Every chapter page and every solution notebook executes top to bottom (nbval, lax mode).

The chapter pages are MyST markdown; jupytext turns each into a notebook first. nbval runs in a
child pytest so that its kernels and sanitizers stay apart from the rest of the suite; the test
asserts the child's exit status and that it really executed cells.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def toc_pages() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ch["file"] for part in toc.get("parts", []) for ch in part.get("chapters", [])]
    return [ROOT / f"{f}.md" for f in files]


def _run_nbval(notebooks: list[Path], cwd: Path) -> tuple[int, str]:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(ROOT / "tests" / "nbval_sanitize.cfg"),
        *map(str, notebooks),
    ]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def _passed(out: str) -> int:
    m = re.search(r"(\d+) passed", out)
    return int(m.group(1)) if m else 0


def _code_cells(nb: Path) -> int:
    return sum(c["cell_type"] == "code" for c in json.loads(nb.read_text())["cells"])


def test_chapter_pages_execute(tmp_path):
    pages = toc_pages()
    assert pages, "_toc.yml lists no chapters"
    notebooks = []
    for page in pages:
        assert page.is_file(), f"_toc.yml lists {page.relative_to(ROOT)}, which does not exist"
        out = tmp_path / "book" / f"{page.stem}.ipynb"
        out.parent.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jupytext",
                "--quiet",
                "--to",
                "ipynb",
                "-o",
                str(out),
                str(page),
            ],
            check=True,
        )
        notebooks.append(out)
    code, out = _run_nbval(notebooks, tmp_path)
    assert code == 0, out[-8000:]
    assert _passed(out) == sum(_code_cells(nb) for nb in notebooks), out[-3000:]


def test_solution_notebooks_execute(tmp_path):
    sources = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    assert sources, "no solution notebooks"
    copies = []
    for nb in sources:
        dest = tmp_path / nb.name
        shutil.copy(nb, dest)
        copies.append(dest)
    code, out = _run_nbval(copies, tmp_path)
    assert code == 0, out[-8000:]
    assert _passed(out) == sum(_code_cells(nb) for nb in copies), out[-3000:]
