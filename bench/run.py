"""The whole benchmark suite in one command: every figure of the product, as JSON and a short table.

1. Grading throughput: `autograder grade` against plain `nbgrader autograde` on the same class,
   in the same run (`bench/grading.py`, whose own JSON this merges).
2. Per-submission grading time of each assignment: its reference solution graded as a hand-in,
   in the sandbox, one notebook at a time.
3. Reference training: the time of each assignment's training cell and the accuracy (or MSE) it
   reaches, from the reference notebook run top to bottom as a student would run it.
4. The course site: a clean build and a rebuild with nothing changed.
5. Mutation score of each assignment's tests (`bench/mutation.py`), sampled for the assignments
   that train networks unless `--full`.
6. GPU: the same per-submission grading with `--gpus 1` when a GPU is visible; otherwise recorded
   as not measured.

Writes `bench/results/summary.json` and `bench/results/summary.md` (the table the README shows).
Usage: .venv/bin/python bench/run.py [--students 48] [--full] [--skip grading,site,mutation,...]
Takes about an hour on a 2-core machine; `--skip mutation` brings it to about 15 minutes and shows
the figures of the last `bench/mutation.py` run instead, marked as such.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))
from autograder.core.cells import needs_gpu  # noqa: E402 (runs from a checkout, installed or not)
from autograder.core.config import GradingSettings  # noqa: E402
from autograder.core.course import Course  # noqa: E402
from autograder.grade import GradingTarget, grade_notebook  # noqa: E402
from autograder.grading.observation import prelude_source  # noqa: E402
from autograder.intake.submissions import Submission  # noqa: E402

STEPS = ("grading", "assignments", "training", "site", "mutation", "gpu")

TRAINING_CELLS = {
    # assignment: (grade_id of the cell that trains the reference network, what it prints, unit)
    "nanograd": ("testing", r"test MSE: ([\d.]+)", "test MSE"),
    "mlp": ("train_digits", r"test accuracy ([\d.]+)%", "test accuracy %"),
    "cnn": ("train", r"test accuracy ([\d.]+)%", "test accuracy %"),
    "attention": ("train", r"validation loss ([\d.]+) nats", "validation loss, nats per character"),
    "optim": ("race", r"Adam .*validation accuracy ([\d.]+)%", "Adam's validation accuracy %"),
    "generative": ("train", r"validation -ELBO ([\d.]+) nats", "VAE's validation -ELBO, nats per image"),
    "rl": (
        "test_q_learning_blackjack",
        r"expected return ([-+\d.]+) \(optimum",
        "Q-learning's greedy policy, return per game",
    ),
}

MUTATION_SAMPLE = {"mlp": 30, "cnn": 30, "attention": 30, "optim": 30, "generative": 30, "rl": 30}
"""Mutants graded per assignment that trains networks (each takes about a minute); the others: all."""


def machine() -> str:
    load = os.getloadavg()[0]
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" load {load:.1f} at the start"
    )


def grading_throughput(students: int) -> dict:
    """Run bench/grading.py and return its figures."""
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "grading.py"), "--students", str(students)], check=True
    )
    return json.loads((RESULTS / "grading.json").read_text())


def grade_solution(course: Course, assignment: str, settings: GradingSettings) -> dict:
    """The reference solution of every notebook of `assignment`, graded as a hand-in."""
    figures = {}
    for notebook in course.notebook_names(assignment):
        target = GradingTarget.load(course, assignment, notebook).with_reference(settings)
        submission = Submission("reference", notebook, course.source_root / assignment / notebook)
        started = time.perf_counter()
        grade, _ = grade_notebook(target, submission, settings)
        figures[notebook] = {
            "score": grade.score,
            "max_score": grade.max_score,
            "status": grade.status,
            "wall_s": round(time.perf_counter() - started, 1),
        }
    return figures


def reference_training(course: Course, assignment: str) -> dict:
    """Run the reference notebook as a student would (no sandbox); time its training cell.

    The grader's prelude cell goes first, as in grading: the hidden tests hand their values to `observe`.
    """
    grade_id, pattern, unit = TRAINING_CELLS[assignment]
    folder = course.source_root / assignment
    notebook = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(prelude_source()))
    with tempfile.TemporaryDirectory() as scratch:
        for relative in course.source_files(assignment):
            (Path(scratch) / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / relative, Path(scratch) / relative)
        NotebookClient(
            notebook, timeout=900, record_timing=True, resources={"metadata": {"path": scratch}}
        ).execute()
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    timing = cell.metadata["execution"]
    seconds = _seconds(timing["shell.execute_reply"]) - _seconds(timing["iopub.execute_input"])
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    found = re.search(pattern, text)
    return {"cell": grade_id, "seconds": round(seconds, 1), unit: float(found.group(1)) if found else None}


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def site_build() -> dict:
    """A clean build of the book into a fresh folder, then the same build again with nothing changed."""
    command = [str(BIN / "jupyter-book"), "build", str(REPO), "--builder", "html", "-W", "-n", "--keep-going"]
    figures = {}
    with tempfile.TemporaryDirectory() as out:
        for name in ("clean_s", "no_change_s"):
            started = time.perf_counter()
            subprocess.run([*command, "--path-output", out], check=True, capture_output=True)
            figures[name] = round(time.perf_counter() - started, 1)
    return figures


def mutation(assignments: list[str], full: bool) -> dict:
    """Run bench/mutation.py (sampled for the training assignments unless `full`) and return its figures."""
    command = [sys.executable, str(REPO / "bench" / "mutation.py"), *assignments]
    if not full:
        command += [f"--sample={name}={n}" for name, n in MUTATION_SAMPLE.items() if name in assignments]
    subprocess.run(command, check=True)
    return json.loads((RESULTS / "mutation.json").read_text())["assignments"]


def gpu(course: Course) -> dict:
    """Grading of the GPU notebooks on a GPU, when this machine has one."""
    import torch

    if not torch.cuda.is_available():
        return {"measured": False, "why": "no GPU visible on this machine"}
    settings = GradingSettings(gpus=1)
    on_gpu = [
        a
        for a in course.assignments()
        if any(
            needs_gpu(nbformat.read(course.source_root / a / name, as_version=4))
            for name in course.notebook_names(a)
        )
    ]
    return {
        "measured": True,
        "device": torch.cuda.get_device_name(0),
        "assignments": {a: grade_solution(course, a, settings) for a in on_gpu},
    }


def table(summary: dict) -> str:
    """The short Markdown table of the headline figures."""
    rows = [f"Machine: {summary['machine']}; {summary['date']}.", "", "| figure | value |", "|---|---|"]
    grading = summary.get("grading")
    if grading:
        runs = grading.get("runs", {}).get("autograder_grade_s", [])
        each = f" (median of {len(runs)} runs each, taking turns)" if len(runs) > 1 else ""
        rows.append(
            f"| grading {grading['students']} hand-ins: nbgrader autograde / autograder grade{each} |"
            f" {grading['nbgrader_autograde_s']:.1f} s / {grading['autograder_grade_s']:.1f} s"
            f" (**{grading['speedup']}x**) |"
        )
    for assignment, notebooks in summary.get("assignments", {}).items():
        for figures in notebooks.values():
            rows.append(
                f"| {assignment}: grading the reference solution | {figures['wall_s']} s,"
                f" {figures['score']:g}/{figures['max_score']:g} |"
            )
    for assignment, figures in summary.get("training", {}).items():
        measured = ", ".join(f"{k} {v}" for k, v in figures.items() if k not in ("cell", "seconds"))
        rows.append(f"| {assignment}: reference training | {figures['seconds']} s, {measured} |")
    site = summary.get("site")
    if site:
        rows.append(f"| site build: clean / no change | {site['clean_s']} s / {site['no_change_s']} s |")
    earlier = "an earlier " if summary.get("mutation_from_earlier_run") else ""
    for assignment, figures in summary.get("mutation", {}).items():
        if figures.get("score") is not None:
            sampled = (
                f", a seeded sample of {figures['sample']}, seed {figures['seed']}"
                if figures.get("sample")
                else ", every mutant"
            )
            when = f", {figures['date']}" if figures.get("date") else ""
            rows.append(
                f"| {assignment}: mutants killed ({earlier}`bench/mutation.py` run{when}) |"
                f" {figures['killed']}/{figures['graded']}"
                f" ({figures['score']:.1%}{sampled}; {figures['equivalent']} marked equivalent) |"
            )
    gpu_figures = summary.get("gpu")
    if gpu_figures and not gpu_figures["measured"]:
        rows.append(f"| grading with `--gpus 1` | not measured: {gpu_figures['why']} |")
    elif gpu_figures:
        for assignment, notebooks in gpu_figures["assignments"].items():
            for figures in notebooks.values():
                rows.append(f"| {assignment} on {gpu_figures['device']} | {figures['wall_s']} s |")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=48, help="class size of the throughput benchmark")
    parser.add_argument("--full", action="store_true", help="every mutant, also of mlp and cnn (hours)")
    parser.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {','.join(STEPS)}")
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(STEPS):
        parser.error(f"unknown steps {sorted(skip - set(STEPS))}; the steps are {', '.join(STEPS)}")
    course = Course(REPO)
    assignments = course.assignments()
    summary = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    steps = {
        "grading": lambda: grading_throughput(args.students),
        "assignments": lambda: {a: grade_solution(course, a, GradingSettings()) for a in assignments},
        "training": lambda: {a: reference_training(course, a) for a in TRAINING_CELLS if a in assignments},
        "site": site_build,
        "mutation": lambda: mutation(assignments, args.full),
        "gpu": lambda: gpu(course),
    }
    for name, step in steps.items():
        if name == "mutation" and name in skip and (RESULTS / "mutation.json").exists():
            # Mutation runs take hours for the training assignments: show the last figures, marked so.
            summary["mutation"] = json.loads((RESULTS / "mutation.json").read_text())["assignments"]
            summary["mutation_from_earlier_run"] = True
        if name in skip:
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        summary[name] = step()
        print(f"== {name}: {time.perf_counter() - started:.0f} s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / "summary.md").write_text(table(summary))
    print(table(summary))
    print(f"wrote {RESULTS / 'summary.json'} and {RESULTS / 'summary.md'}")


if __name__ == "__main__":
    main()
