"""Benchmark: how strong every assignment's tests are, by mutation analysis (`autograder check`).

For each assignment: the mutants of its reference solution (all, or a seeded sample), how many are
marked equivalent, how many the tests kill, the share killed and the wall time. Results are merged
into `bench/results/mutation.json`, so assignments can be run one at a time.

Usage: .venv/bin/python bench/mutation.py [ASSIGNMENT ...] [--sample N | --sample NAME=N ...] [--workers 2]
e.g.   .venv/bin/python bench/mutation.py warmup nanograd
       .venv/bin/python bench/mutation.py mlp cnn --sample 20
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from autograder.authoring.mutate import equivalent_line  # noqa: E402
from autograder.check import check_assignment  # noqa: E402 (runs from a checkout, installed or not
from autograder.core.config import GradingSettings  # noqa: E402
from autograder.core.course import Course  # noqa: E402

RESULTS = REPO / "bench" / "results" / "mutation.json"


def parse_samples(values: list[str], assignments: list[str]) -> dict[str, int | None]:
    """`--sample 20` for every assignment, `--sample mlp=20` for one; None means every mutant."""
    samples: dict[str, int | None] = dict.fromkeys(assignments)
    for value in values:
        name, _, number = value.rpartition("=")
        for assignment in [name] if name else assignments:
            samples[assignment] = int(number)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: every assignment of the course")
    parser.add_argument("--sample", action="append", default=[], metavar="[NAME=]N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    course = Course(REPO)
    assignments = args.assignments or course.assignments()
    samples = parse_samples(args.sample, assignments)
    for assignment in assignments:
        started = time.perf_counter()
        load_at_start = os.getloadavg()[0]
        report = check_assignment(
            course,
            assignment,
            GradingSettings(workers=args.workers),
            seed=args.seed,
            sample=samples[assignment],
            report=lambda r: print(f"  {r.mutant.id} {'killed' if r.killed else 'SURVIVED'}", flush=True),
        )
        seconds = time.perf_counter() - started
        entry = {
            "mutants": report.made,
            "sample": samples[assignment],
            "seed": args.seed if samples[assignment] else None,
            "date": time.strftime("%Y-%m-%d"),
            "load_1_min_at_start": round(load_at_start, 1),
            "equivalent": len(report.equivalent),
            "graded": len(report.results),
            "killed": report.killed,
            "score": None if report.score is None else round(report.score, 4),
            "seconds": round(seconds, 1),
            "workers": args.workers,
            "baseline_problems": report.problems,
            "survivors": [equivalent_line(r.mutant, "") for r in report.survivors],
        }
        score = "-" if report.score is None else f"{report.score:.1%}"
        print(f"{assignment}: killed {report.killed}/{len(report.results)} ({score}) in {seconds:.0f} s")
        save(assignment, entry)
    print(f"wrote {RESULTS}")


def save(assignment: str, entry: dict) -> None:
    """Merge one assignment's figures into the results file, read afresh: other runs may have written."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("assignments", {})[assignment] = entry
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
