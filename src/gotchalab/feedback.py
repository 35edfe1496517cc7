"""Feedback that teaches without leaking: an nbgrader feedback preprocessor.

``nbgrader generate_feedback`` renders the autograded notebook, whose test cells hold the hidden
tests (nbgrader restores them to grade), and whose outputs are IPython tracebacks that quote the
hidden lines, library frames and the machine's paths (nbgrader issues #917 and #1363).
:class:`ScrubHiddenTests` runs after nbgrader's ``GetGrades`` and, in every code cell:

* removes the ``### BEGIN/END HIDDEN TESTS`` region from the source (a comment says hidden tests
  ran there);
* replaces an error's traceback with its verdict (the checker's report: category, the shortest
  failing case in words, what to run to replay it), so no frame is shown;
* removes from every output any line quoting a hidden line, redacts the seeds and case counts the
  hidden calls used (``seed: 1`` becomes ``seed: (hidden)``) unless the visible calls use the
  same value, and shortens absolute paths to their last component.

Wire it in ``nbgrader_config.py`` with :func:`configure`.
"""

from __future__ import annotations

import re
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .grading import hidden_lines

__all__ = ["ScrubHiddenTests", "configure", "scrub_text"]

_HIDDEN_REGION = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?",
    re.MULTILINE | re.DOTALL,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KWARG_NUMBER = re.compile(r"\b(seed|cases|n|case|real_cases|hash_seeds)\s*=\s*\(?([0-9_, ]+)\)?")
_PATH = re.compile(r"(?:/[^\s/'\"():,]+){2,}/([^\s/'\"():,]+)")


def _numbers(lines: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in lines:
        for key, values in _KWARG_NUMBER.findall(line):
            for v in re.split(r"[, ]+", values):
                if v.strip():
                    out.setdefault(key, set()).add(v.replace("_", "").strip())
    return out


def scrub_text(text: str, hidden: list[str], secret: dict[str, set[str]]) -> str:
    """``text`` without lines quoting ``hidden``, with ``secret`` values redacted, short paths."""
    text = _ANSI.sub("", text)
    keep = []
    for line in text.splitlines(keepends=True):
        if any(h in line for h in hidden if len(h) > 4):
            continue
        keep.append(line)
    text = "".join(keep)
    for key, values in secret.items():
        for v in values:
            text = re.sub(rf"\b({re.escape(key)}\s*[:=]\s*){re.escape(v)}\b", r"\1(hidden)", text)
            text = re.sub(rf"\b{key} {re.escape(v)}\b", f"{key} (hidden)", text)
    return _PATH.sub(r"\1", text)


class ScrubHiddenTests(Preprocessor):
    """Remove hidden tests, hidden seeds and library frames from a notebook before it is shown."""

    # nbconvert skips a preprocessor that is not enabled, and the default is False.
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        if cell.get("cell_type") != "code":
            return cell, resources
        source = cell.get("source", "")
        hidden = hidden_lines(source)
        visible = _HIDDEN_REGION.sub("", source)
        shown = _numbers(visible.splitlines())
        secret = {
            k: {v for v in vs if v not in shown.get(k, set()) and v != "0"}
            for k, vs in _numbers(hidden).items()
        }
        if hidden:
            cell["source"] = _HIDDEN_REGION.sub("# (hidden tests ran here)\n", source).rstrip()
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                verdict = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
                verdict = scrub_text(verdict, hidden, secret)
                out["evalue"] = verdict.split(": ", 1)[-1]
                out["traceback"] = verdict.splitlines()
            elif kind == "stream":
                out["text"] = scrub_text(out.get("text", ""), hidden, secret)
            elif kind in ("display_data", "execute_result"):
                data = out.get("data", {})
                if "text/plain" in data:
                    plain = data["text/plain"]
                    plain = plain if isinstance(plain, str) else "".join(plain)
                    data["text/plain"] = scrub_text(plain, hidden, secret)
        return cell, resources


def configure(c: Any) -> None:
    """Add :class:`ScrubHiddenTests` to nbgrader's feedback, after ``GetGrades``."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    c.GenerateFeedback.preprocessors = [GetGrades, ScrubHiddenTests, CSSHTMLHeaderPreprocessor]
