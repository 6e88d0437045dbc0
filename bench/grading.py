"""Benchmark: `autograder grade` against plain `nbgrader autograde` on the same class, in one run.

The class is the demo class of `demo/warmup/` repeated until it has `--students` hand-ins. Both tools
grade it from scratch in a throw-away copy of the course; the script prints a table, writes
`bench/results/grading.json`, and reports where the two tools' scores differ (plain nbgrader gives 0
to the notebook whose metadata was stripped).

Usage: .venv/bin/python bench/grading.py [--students 48]
"""

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook as NbgraderGradebook

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO = REPO / "demo" / "warmup"


def make_class(folder: Path, students: int) -> list[str]:
    """Copy the demo hand-ins round-robin to `folder/<id>/warmup.ipynb`; return the ids."""
    originals = sorted(p for p in DEMO.glob("*/warmup.ipynb"))
    ids = []
    for n in range(students):
        original = originals[n % len(originals)]
        student_id = f"{original.parent.name}-{n:03d}"
        (folder / student_id).mkdir(parents=True)
        shutil.copy(original, folder / student_id / "warmup.ipynb")
        ids.append(student_id)
    return ids


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def run_nbgrader(root: Path, ids: list[str]) -> tuple[float, dict[str, float]]:
    """Plain nbgrader, as a teacher would run it: generate_assignment, then autograde the class."""
    shutil.copytree(REPO / "source_notebooks", root / "source_notebooks")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        'c.CourseDirectory.source_directory = "source_notebooks"\n'
        'c.CourseDirectory.release_directory = "assignments"\n'
    )
    nbgrader = str(BIN / "nbgrader")
    # generate_assignment into a fresh gradebook sometimes fails once before it works (nbgrader 0.9.6).
    if subprocess.run(
        [nbgrader, "generate_assignment", "warmup", "--force"], cwd=root, capture_output=True
    ).returncode:
        subprocess.run(
            [nbgrader, "generate_assignment", "warmup", "--force"], cwd=root, check=True, capture_output=True
        )
    make_class(root / "submitted_tmp", len(ids))
    for student_id in ids:
        target = root / "submitted" / student_id / "warmup"
        target.mkdir(parents=True)
        shutil.move(root / "submitted_tmp" / student_id / "warmup.ipynb", target / "warmup.ipynb")
    seconds = timed([nbgrader, "autograde", "warmup", "--create", "--force"], root)
    with NbgraderGradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions("warmup")}
    return seconds, scores


def run_autograder(root: Path, ids: list[str]) -> tuple[float, dict[str, float]]:
    make_class(root / "class", len(ids))
    out = root / "out"
    seconds = timed(
        [str(BIN / "autograder"), "grade", "warmup", str(root / "class"), "--out", str(out)], REPO
    )
    lines = (out / "grades.csv").read_text().splitlines()[1:]
    return seconds, {line.split(",")[0]: float(line.split(",")[2]) for line in lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=48)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        ids = make_class(scratch / "ids", args.students)
        nbgrader_seconds, nbgrader_scores = run_nbgrader(scratch / "nbgrader", ids)
        ours_seconds, our_scores = run_autograder(scratch / "autograder", ids)
    differ = sorted({s.rsplit("-", 1)[0] for s in ids if nbgrader_scores.get(s) != our_scores.get(s)})
    result = {
        "machine": f"{platform.machine()}, {subprocess.getoutput('nproc')} cores, Python {platform.python_version()}",
        "students": args.students,
        "nbgrader_autograde_s": round(nbgrader_seconds, 2),
        "autograder_grade_s": round(ours_seconds, 2),
        "speedup": round(nbgrader_seconds / ours_seconds, 2),
        "per_submission_s": {
            "nbgrader": round(nbgrader_seconds / args.students, 3),
            "autograder": round(ours_seconds / args.students, 3),
        },
        "hand_ins_scored_differently": differ,
    }
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "grading.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"| tool | {args.students} hand-ins | per hand-in |\n|---|---|---|")
    print(
        f"| nbgrader autograde | {nbgrader_seconds:.1f} s | {result['per_submission_s']['nbgrader']:.2f} s |"
    )
    print(f"| autograder grade | {ours_seconds:.1f} s | {result['per_submission_s']['autograder']:.2f} s |")
    print(f"speed-up: {result['speedup']}x; scored differently: {', '.join(differ) or 'none'}")


if __name__ == "__main__":
    main()
