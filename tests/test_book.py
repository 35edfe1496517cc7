"""The HTML book builds from a clean state, executing every chapter, with warnings as errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_chapters import toc_pages

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run(
        [
            str(jb),
            "build",
            str(ROOT),
            "--path-output",
            str(out),
            "--warningiserror",
            "--nitpick",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    return out / "_build" / "html"


def test_every_chapter_page_is_built_with_pictures(html):
    assert (html / "index.html").is_file()
    for page in toc_pages():
        built = html / "book" / f"{page.stem}.html"
        assert built.is_file(), f"{built.name} was not built"
        text = built.read_text()
        assert len(re.findall(r"<img ", text)) >= 2, f"{built.name}: expected pictures from the run"
        assert "Traceback" not in text, f"{built.name}: an error output made it into the page"


def test_intro_lists_all_ten_gotchas(html):
    text = (html / "book" / "intro.html").read_text()
    for n in range(1, 11):
        assert f"{n:02d}" in text or f">{n}." in text, f"chapter {n} missing from the introduction"
