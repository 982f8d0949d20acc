"""Benchmark: previewing 1,000 posts (the goal: well under a second).

Run from the project root after ``pip install -e '.[test]'``::

    python bench/bench_preview.py

Measures the whole ``megaphone preview`` process (output to a pipe, so plain
text at 100 columns), and ``list`` and ``calendar --month`` on the same
project, with a bare ``python -c "import click, rich.console"`` beside them.
"""

from __future__ import annotations

import argparse
import compileall
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_validate import ROOT, best_of, make_project, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    compileall.compile_dir(ROOT / "src" / "megaphone", quiet=1)
    os.environ["COLUMNS"] = "100"
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_project(folder, files=10, per_file=100)
        times = best_of(
            {
                "ref": [py, "-c", "import click, rich.console"],
                "preview": [py, "-m", "megaphone", "preview"],
                "list": [py, "-m", "megaphone", "list"],
                "calendar": [py, "-m", "megaphone", "calendar", "--month", "--from", "2027-01-01"],
            },
            repeat,
            cwd=folder,
        )
    print(f"Python {sys.version.split()[0]}; 1,000 posts in 10 files (best of {repeat})")
    row("python -c 'import click, rich.console'", times["ref"])
    row("megaphone preview", times["preview"], times["ref"])
    row("megaphone list", times["list"], times["ref"])
    row("megaphone calendar --month", times["calendar"], times["ref"])


if __name__ == "__main__":
    main()
