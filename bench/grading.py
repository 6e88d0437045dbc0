"""Benchmark: `autograder grade` against plain `nbgrader autograde`, in one run on one machine.

Two measurements:
1. Speed: the demo class (`demo/warmup/`) without its edited notebook (s230004, metadata stripped:
   nbgrader cannot grade it) repeated until it has `--students` hand-ins, graded from scratch by
   `autograder grade` with its default settings (one worker per core) and by one plain sequential
   `nbgrader autograde` command for the whole class, as a teacher runs them; both must give every
   hand-in the same score. autograder's time includes its reference run of the solution (a fresh
   cache). nbgrader cannot judge observations outside the kernel, so it grades
   `bench/nbgrader/warmup.ipynb`: the same assignment with the same hidden checks written as
   in-kernel asserts, as an nbgrader course writes them. The two tools take turns, `--repeats` times
   each (a shared 2-core machine gives one run's ratio a spread of about 20 %). Printed and stored:
   every run's wall times, the ratio of the medians, and the machine's load.
2. Edited notebooks: the demo hand-ins plus edited copies of the full solution (tests/edited_corpus.py:
   metadata stripped, answer moved, duplicated, turned into markdown, re-typed, test cells deleted),
   each graded by both tools; nbgrader one student at a time, since one bad notebook stops its batch.

Writes `bench/results/grading.json` and prints both tables.
Usage: .venv/bin/python bench/grading.py [--students 48] [--repeats 3]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook as NbgraderGradebook

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from edited_corpus import edited_variants  # noqa: E402 (the corpus lives with the tests)

BIN = Path(sys.executable).parent
DEMO = REPO / "demo" / "warmup"
EDITED = {"s230004"}
"""Demo hand-ins whose metadata an editor stripped: nbgrader scores them 0, so the speed class leaves them out."""


def demo_hand_ins() -> dict[str, nbformat.NotebookNode]:
    """Every demo hand-in by student id (s230006's file is `warmup (1).ipynb`)."""
    return {p.parent.name: nbformat.read(p, as_version=4) for p in sorted(DEMO.glob("*/*.ipynb"))}


def corpus() -> dict[str, nbformat.NotebookNode]:
    hand_ins = demo_hand_ins()
    hand_ins.pop("s230006")  # handed in as `warmup (1).ipynb`; the table compares named notebooks
    edited = edited_variants(hand_ins["s230001"], answer="relu")
    return hand_ins | {f"s230001-{name}": notebook for name, notebook in edited.items()}


def repeated(hand_ins: dict[str, nbformat.NotebookNode], students: int) -> dict[str, nbformat.NotebookNode]:
    items = list(hand_ins.items())
    return {f"{items[n % len(items)][0]}-{n:03d}": items[n % len(items)][1] for n in range(students)}


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, int]:
    """Wall time and exit code of a command."""
    start = time.perf_counter()
    code = subprocess.run(command, cwd=cwd, capture_output=True, env=env).returncode
    return time.perf_counter() - start, code


def nbgrader_grade(root: Path, hand_ins: dict, one_at_a_time: bool) -> tuple[float, dict[str, float | None]]:
    """Plain nbgrader as a teacher runs it: generate_assignment, then autograde."""
    shutil.copytree(REPO / "source_notebooks", root / "source_notebooks")
    shutil.copy(REPO / "bench" / "nbgrader" / "warmup.ipynb", root / "source_notebooks" / "warmup")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        'c.CourseDirectory.source_directory = "source_notebooks"\n'
        'c.CourseDirectory.release_directory = "assignments"\n'
    )
    nbgrader = str(BIN / "nbgrader")
    # generate_assignment into a fresh gradebook sometimes fails once before it works (nbgrader 0.9.6).
    for _ in range(2):
        if timed([nbgrader, "generate_assignment", "warmup", "--force"], root)[1] == 0:
            break
    for student_id, notebook in hand_ins.items():
        (root / "submitted" / student_id / "warmup").mkdir(parents=True)
        nbformat.write(notebook, root / "submitted" / student_id / "warmup" / "warmup.ipynb")
    autograde = [nbgrader, "autograde", "warmup", "--create", "--force"]
    batches = [[*autograde, f"--student={s}"] for s in hand_ins] if one_at_a_time else [autograde]
    seconds = sum(timed(command, root)[0] for command in batches)
    with NbgraderGradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        graded = {s.student.id: s.score for s in gradebook.assignment_submissions("warmup") if s.notebooks}
    return seconds, {student_id: graded.get(student_id) for student_id in hand_ins}


def autograder_grade(root: Path, hand_ins: dict) -> tuple[float, dict[str, float]]:
    for student_id, notebook in hand_ins.items():
        (root / "class" / student_id).mkdir(parents=True)
        nbformat.write(notebook, root / "class" / student_id / "warmup.ipynb")
    out = root / "out"
    fresh_cache = dict(os.environ, XDG_CACHE_HOME=str(root / "cache"))  # the reference run counts
    seconds, code = timed(
        [str(BIN / "autograder"), "grade", "warmup", str(root / "class"), "--out", str(out)],
        REPO,
        fresh_cache,
    )
    if code:
        raise SystemExit(f"autograder grade failed with exit code {code}")
    rows = [line.split(",") for line in (out / "grades.csv").read_text().splitlines()[1:]]
    return seconds, {row[0]: float(row[2]) for row in rows}


def load() -> str:
    """The machine's load averages over 1, 5 and 15 minutes (other jobs share its cores)."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each tool, taking turns")
    parser.add_argument("--skip-edited", action="store_true", help="only the speed comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        plain = {k: v for k, v in demo_hand_ins().items() if k not in EDITED}
        speed_class = repeated(plain, args.students)
        theirs_runs, ours_runs, loads = [], [], []
        for n in range(args.repeats):
            loads.append(load())
            theirs_s, their_speed_scores = nbgrader_grade(
                scratch / f"speed-nbgrader-{n}", speed_class, one_at_a_time=False
            )
            loads.append(load())
            ours_s, our_speed_scores = autograder_grade(scratch / f"speed-autograder-{n}", speed_class)
            theirs_runs.append(theirs_s)
            ours_runs.append(ours_s)
            differ = {s: (their_speed_scores[s], our_speed_scores[s]) for s in speed_class}
            differ = {s: scores for s, scores in differ.items() if scores[0] != scores[1]}
            if differ:
                raise SystemExit(
                    f"the tools disagree on {len(differ)} hand-ins (nbgrader, autograder): {differ}"
                )
        loads.append(load())
        theirs_s, ours_s = statistics.median(theirs_runs), statistics.median(ours_runs)
        edited = {} if args.skip_edited else corpus()
        if edited:
            _, their_scores = nbgrader_grade(scratch / "edited-nbgrader", edited, one_at_a_time=True)
            _, our_scores = autograder_grade(scratch / "edited-autograder", edited)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_1_5_15_min": {"before each run and after the last": loads},
        "students": args.students,
        "same_scores": True,
        "runs": {
            "nbgrader_autograde_s": [round(x, 2) for x in theirs_runs],
            "autograder_grade_s": [round(x, 2) for x in ours_runs],
        },
        "nbgrader_autograde_s": round(theirs_s, 2),
        "autograder_grade_s": round(ours_s, 2),
        "speedup": round(theirs_s / ours_s, 2),
        "speedup_is": f"the ratio of the medians of {args.repeats} runs each, the tools taking turns",
        "per_submission_s": {
            "nbgrader": round(theirs_s / args.students, 3),
            "autograder": round(ours_s / args.students, 3),
        },
    }
    if edited:
        result["edited_notebooks"] = {
            name: {"nbgrader": their_scores[name], "autograder": our_scores[name]} for name in edited
        }
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "grading.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"load (1/5/15 min) before each run and after the last: {'; '.join(loads)}")
    for tool, runs in (("nbgrader autograde", theirs_runs), ("autograder grade", ours_runs)):
        print(f"{tool}: {', '.join(f'{x:.1f} s' for x in runs)}")
    print(f"| tool | {args.students} hand-ins (median) | per hand-in |\n|---|---|---|")
    print(f"| nbgrader autograde | {theirs_s:.1f} s | {result['per_submission_s']['nbgrader']:.2f} s |")
    print(f"| autograder grade | {ours_s:.1f} s | {result['per_submission_s']['autograder']:.2f} s |")
    print(f"speed-up: {result['speedup']}x, the same score for all {args.students} hand-ins\n")
    if edited:
        print("| hand-in (points of 7) | nbgrader autograde | autograder grade |\n|---|---|---|")
        for name in edited:
            theirs = "stopped, no grade" if their_scores[name] is None else f"{their_scores[name]:g}"
            print(f"| {name} | {theirs} | {our_scores[name]:g} |")


if __name__ == "__main__":
    main()
