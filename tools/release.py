"""Regenerate ``exercises/`` from ``solutions/`` with nbgrader, or check that it is fresh.

    python tools/release.py            # write exercises/NN-slug/NN-slug.ipynb for every chapter
    python tools/release.py --check    # exit 1 and name the stale files if a release would differ

The release is generated in a temporary course directory (see ``nbgrader_course.py``) and copied
into ``exercises/``, so the instructor's own gradebook is never touched.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbgrader_course import EXERCISES, Course, chapters  # noqa: E402


def canonical(path: Path) -> str:
    """A notebook as sorted, indented JSON: the form committed and compared."""
    return (
        json.dumps(json.loads(path.read_text()), indent=1, sort_keys=True, ensure_ascii=False)
        + "\n"
    )


def fresh_release(slug: str, workdir: Path) -> str:
    course = Course.create(workdir / slug, slug)
    return canonical(course.generate())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    stale = []
    with tempfile.TemporaryDirectory(prefix="gotchas-release-") as tmp:
        for slug in chapters():
            text = fresh_release(slug, Path(tmp))
            dest = EXERCISES / slug / f"{slug}.ipynb"
            if args.check:
                if not dest.is_file() or dest.read_text() != text:
                    stale.append(str(dest.relative_to(EXERCISES.parent)))
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
            print(f"released {dest.relative_to(EXERCISES.parent)}")
        if args.check:
            known = (
                {p.name for p in EXERCISES.iterdir() if p.is_dir()} if EXERCISES.exists() else set()
            )
            extra = sorted(known - set(chapters()))
            for name in extra:
                stale.append(f"exercises/{name} (no solutions/{name})")
    if stale:
        print(
            "exercises/ is stale; run `make release` and commit the result:\n  "
            + "\n  ".join(stale)
        )
        return 1
    if args.check:
        print(f"exercises/ is fresh ({len(chapters())} chapters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
