"""Benchmarks for start-up, `megaphone validate` and the text counter.

Run from the project root after ``pip install -e '.[test]'``::

    python bench/bench_validate.py            # all of them
    python bench/bench_validate.py --quick    # fewer repetitions

Each figure is measured side by side with its reference in the same run:

* start-up: ``megaphone --help`` and ``megaphone validate posts/`` against a bare
  ``python -c "import click, rich.console"``;
* validation: the whole ``megaphone validate`` process on a generated project
  of 10,000 posts in 100 files, against a bare Python process that only parses
  the same files with PyYAML's C loader (the goal: at most 2.5 times as long),
  by default (one process per core) and in one process (``--jobs 1``);
* the counter: typical posts (about 250 characters, one link) per second,
  against the PyPI package twitter-text-parser when it is installed (the goal:
  at least 100,000 a second).

Process times are the best of several runs (the least disturbed by the rest
of the machine).
"""

from __future__ import annotations

import argparse
import compileall
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORDS = """
    we are educators and we miss seeing our students in classrooms safe return schools
    community health support families neighborhood funding town hall petition sign join
    public schools equity students disabilities civil rights briefing vote board proposal
    united caravan downtown coalition partners teachers union stand together deserve
""".split()
TAGS = ["WeArePublicSchools", "MakeItSafe", "CommunitySchools", "FundOurSchools", "UTLAStrong"]
MENTIONS = ["@UTLAnow", "@ReclaimLASchls", "@AllianceEdUnite", "@PromiseFulfill"]


def typical_text(rng: random.Random, n: int) -> str:
    """About 250 characters: words, a mention now and then, one link, a hashtag."""
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < 160:
        words.append(rng.choice(WORDS))
    words[0] = words[0].capitalize()
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(MENTIONS))
    link = f"https://example.org/campaign/{n}/{rng.choice(WORDS)}-{rng.choice(WORDS)}"
    return " ".join(words) + f". Read more: {link} #{rng.choice(TAGS)}"


def make_project(
    folder: Path, *, files: int = 100, per_file: int = 100, repeating: float = 0.0
) -> list[Path]:
    """A project of ``files`` queues of ``per_file`` posts each; the share
    ``repeating`` of them repeat weekly with two rotating texts."""
    rng = random.Random(20261129)
    (folder / "megaphone.yaml").write_text(
        "timezone: America/Los_Angeles\naccounts:\n  - {name: utla, network: x}\n"
        "  - {name: reclaim-la, network: x}\n",
        encoding="utf-8",
    )
    posts_dir = folder / "posts"
    posts_dir.mkdir()
    paths = []
    n = 0
    for f in range(files):
        lines = ["account: utla", "timezone: America/Los_Angeles", "posts:"]
        for _ in range(per_file):
            n += 1
            day = 1 + n % 28
            month = 1 + (n // 28) % 12
            lines += [
                f"  - id: post-{n}",
                f"    at: 2027-{month:02d}-{day:02d} {8 + n % 10:02d}:{n % 60:02d}",
                "    text: >",
                *("      " + line for line in textwrap.wrap(typical_text(rng, n), 88)),
            ]
            if n % 10 == 0:
                lines.append("    hashtags: [CommunitySchools]")
            if repeating and n % round(1 / repeating) == 0:
                lines += [
                    "    repeat: {every: week, on: 'mon, thu', until: 2027-12-31 00:00}",
                    "    rotate:",
                    *(f"      - {json.dumps(typical_text(rng, n + k))}" for k in (1, 2)),
                ]
        path = posts_dir / f"queue-{f:03d}.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def best_of(commands: dict[str, list[str]], repeat: int, cwd: Path = ROOT) -> dict[str, float]:
    """The shortest wall time of each command over ``repeat`` rounds.  The
    commands take turns, so a slow spell of the machine hits them alike."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(repeat):
        for name, cmd in commands.items():
            start = time.perf_counter()
            done = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
            elapsed = time.perf_counter() - start
            if done.returncode not in (0, 1):
                sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr.decode()}")
            best[name] = min(best[name], elapsed)
    return best


def instructions(cmd: list[str], cwd: Path) -> int | None:
    """Instructions the command executes, counted by valgrind (repeatable
    whatever else the machine is doing); None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found[1]) if found else None


def row(label: str, seconds: float, reference: float | None = None) -> None:
    ratio = "   (reference)" if reference is None else f"   ({seconds / reference:.2f}x)"
    print(f"  {label:<42} {seconds * 1000:8.1f} ms{ratio}")


def bench_startup(repeat: int) -> None:
    py = sys.executable
    times = best_of(
        {
            "pass": [py, "-c", "pass"],
            "ref": [py, "-c", "import click, rich.console"],
            "help": [py, "-m", "megaphone", "--help"],
            "validate": [py, "-m", "megaphone", "validate", "posts"],
        },
        repeat,
    )
    ref = times["ref"]
    print(f"start-up (best of {repeat})")
    row("python -c pass", times["pass"], ref)
    row("python -c 'import click, rich.console'", ref)
    row("megaphone --help", times["help"], ref)
    row("megaphone validate posts/", times["validate"], ref)


def bench_validate(repeat: int, *, count_instructions: bool, repeating: float = 0.0) -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_project(folder, repeating=repeating)
        listing = folder / "files.txt"
        listing.write_text("\n".join(map(str, paths)), encoding="utf-8")
        floor_code = (
            "import sys, yaml\n"
            f"for p in open({str(listing)!r}).read().split():\n"
            "    with open(p, encoding='utf-8') as f:\n"
            "        yaml.compose(f, Loader=yaml.CSafeLoader)\n"
        )
        commands = {
            "floor": [py, "-c", floor_code],
            "human": [py, "-m", "megaphone", "validate"],
            "json": [py, "-m", "megaphone", "validate", "--format", "json"],
            "one": [py, "-m", "megaphone", "validate", "--jobs", "1"],
        }
        times = best_of(commands, repeat, cwd=folder)
        check = subprocess.run(
            commands["json"], cwd=folder, capture_output=True, text=True, check=False
        )
        counted = {}
        if count_instructions:
            # All the work, in one process (valgrind counts the parent only).
            counted = {name: instructions(commands[name], folder) for name in ("floor", "one")}
    floor = times["floor"]
    share = f", {repeating:.0%} of them repeating" if repeating else ""
    print(f"validate: 10,000 posts in 100 files{share} (best of {repeat})")
    row("parse only (yaml.compose, CSafeLoader)", floor)
    row("megaphone validate", times["human"], floor)
    row("megaphone validate --format json", times["json"], floor)
    row("megaphone validate --jobs 1 (one process)", times["one"], floor)
    print(f"  problems found: {len(json.loads(check.stdout))}")
    if counted.get("floor") and counted.get("one"):
        f, m = counted["floor"], counted["one"]
        assert f is not None
        assert m is not None
        print(
            f"  instructions (valgrind): parse only {f / 1e9:.2f} G, megaphone validate "
            f"--jobs 1 {m / 1e9:.2f} G ({m / f:.2f}x)"
        )


def bench_counter(seconds: float) -> None:
    from megaphone.text import count

    rng = random.Random(7)
    texts = [typical_text(rng, i) for i in range(2000)]
    print(f"counter: typical posts ({sum(map(len, texts)) // len(texts)} characters, one link)")
    rate = _rate(lambda t: count(t).weighted_length, texts, seconds)
    print(f"  megaphone.text.count        {rate:>12,.0f} posts/s")
    try:
        from twitter_text import parse_tweet  # type: ignore[import-not-found]
    except Exception as e:  # the reference is optional
        print(
            f"  twitter-text-parser         not measured ({type(e).__name__}: {e}); "
            "pip install twitter-text-parser to compare"
        )
        return
    ref = _rate(lambda t: parse_tweet(t).weightedLength, texts, seconds / 2)
    agree = sum(count(t).weighted_length == parse_tweet(t).weightedLength for t in texts[:500])
    print(
        f"  twitter-text-parser         {ref:>12,.0f} posts/s   (reference; megaphone is "
        f"{rate / ref:,.0f}x faster; same length for {agree}/500 texts)"
    )


def _rate(fn: object, texts: list[str], seconds: float) -> float:
    assert callable(fn)
    for t in texts[:50]:
        fn(t)
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for t in texts:
            fn(t)
        done += len(texts)
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions with valgrind (slow, but immune to a busy machine)",
    )
    args = parser.parse_args()
    # Up-to-date bytecode, so that no run pays for compiling megaphone's source
    # (where PYTHONDONTWRITEBYTECODE is set, Python would do it every time).
    compileall.compile_dir(ROOT / "src" / "megaphone", quiet=1)
    repeat = 3 if args.quick else 15
    print(f"Python {sys.version.split()[0]} on {sys.platform}\n")
    bench_startup(repeat)
    print()
    bench_validate(repeat, count_instructions=args.instructions)
    print()
    bench_validate(repeat, count_instructions=False, repeating=0.1)
    print()
    bench_counter(1.0 if args.quick else 3.0)


if __name__ == "__main__":
    main()
