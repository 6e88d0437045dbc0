"""A teacher who already has an nbgrader course gets the same points from `autograder` as from nbgrader.

A made-up course in nbgrader's own format and layout (`source/`, `release/`, nbgrader_config.py), one
assignment of two notebooks written as nbgrader's documentation writes them: autograded answers,
tests with plain asserts and hidden tests (no `observe`), a written answer in markdown with a mark
scheme, a manually graded code answer and a manually graded task. nbgrader releases it; three
students hand in the released notebooks (everything, part of it, nothing). The same hand-ins are
graded by `nbgrader autograde` and by `autograder grade` (from nbgrader's submitted/ tree), and for
every student, notebook and cell the points, the maximum and what waits for a TA are the same.

Everything, nbgrader's gradebook.db and the kernels' files included, stays in the test's folder:
both tools run with HOME there and without the user's or the system's Jupyter config.
"""

import csv
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from synthetic import answer, check, given, hand_in, task, write_nbgrader_course, written

BIN = Path(sys.executable).parent
ASSIGNMENT = "ps1"
SCHEME = "=== BEGIN MARK SCHEME ===\n{}\n=== END MARK SCHEME ==="

PART1 = [
    given("# Problem set 1, part 1", kind="markdown"),
    given("import math"),
    answer(
        "squares",
        'def squares(n):\n    """The squares of 0, 1, ..., n - 1."""\n'
        "    ### BEGIN SOLUTION\n    return [i * i for i in range(n)]\n    ### END SOLUTION",
    ),
    check(
        "test_squares",
        "assert squares(3) == [0, 1, 4]\n"
        "### BEGIN HIDDEN TESTS\nassert squares(0) == []\nassert squares(6)[-1] == 25\n### END HIDDEN TESTS",
        points=2,
    ),
    answer(
        "mean",
        'def mean(xs):\n    """The arithmetic mean of a non-empty list."""\n'
        "    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION",
    ),
    check(
        "test_mean",
        "assert mean([2, 4]) == 3\n"
        "### BEGIN HIDDEN TESTS\nassert math.isclose(mean([1, 2, 4]), 7 / 3)\n### END HIDDEN TESTS",
        points=3,
    ),
    given("Why does the mean of an empty list make no sense?", kind="markdown"),
    written(
        "why_empty",
        "There is nothing to divide by: the sum is 0 and so is the count.\n\n"
        + SCHEME.format("2 points: says the count is zero, so the division is undefined."),
        points=2,
    ),
    task(
        "compare",
        "Compare `mean` with `statistics.mean` on three lists of your own and say what you see.\n\n"
        + SCHEME.format("1 point per list, 1 for the remark."),
        points=4,
    ),
    given("That is all for part 1.", grade_id="end", kind="markdown"),
]
"""Part 1: two autograded answers (2 + 3 points), a written answer (2) and a task (4): 11 points."""

PART2 = [
    given("# Problem set 1, part 2", kind="markdown"),
    answer(
        "clip",
        'def clip(x, low, high):\n    """x, but no lower than low and no higher than high."""\n'
        "    ### BEGIN SOLUTION\n    return max(low, min(x, high))\n    ### END SOLUTION",
    ),
    check(
        "test_clip",
        "assert clip(5, 0, 3) == 3\nassert clip(-1, 0, 3) == 0\n"
        "### BEGIN HIDDEN TESTS\nassert clip(2, 0, 3) == 2\nassert clip(0, 0, 0) == 0\n### END HIDDEN TESTS",
        points=2,
    ),
    given("Write `fib(n)`, the n-th Fibonacci number, without recursion; a TA reads it.", kind="markdown"),
    written(
        "fib",
        "def fib(n):\n    ### BEGIN SOLUTION\n    a, b = 0, 1\n    for _ in range(n):\n"
        "        a, b = b, a + b\n    return a\n    ### END SOLUTION",
        points=3,
        kind="code",
    ),
]
"""Part 2: one autograded answer (2 points) and a manually graded code answer (3): 5 points."""

NOTEBOOKS = {"part1.ipynb": PART1, "part2.ipynb": PART2}

SQUARES = "def squares(n):\n    return [i * i for i in range(n)]"
MEAN = "def mean(xs):\n    return sum(xs) / len(xs)"
MEAN_OF_TWO = "def mean(xs):\n    return (xs[0] + xs[-1]) / 2"  # passes the visible test, not the hidden one
CLIP = "def clip(x, low, high):\n    return max(low, min(x, high))"
CLIP_LOW = "def clip(x, low, high):\n    return max(low, x)"  # forgets the upper bound
FIB = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"
COMPARE = [
    nbformat.v4.new_code_cell("import statistics\nprint(mean([1, 2]), statistics.mean([1, 2]))"),
    nbformat.v4.new_markdown_cell("They agree on every list I tried."),
]
LATE_COMPARE = [
    nbformat.v4.new_markdown_cell("Compare: `mean` and `statistics.mean` agree on [1], [1, 2], [3].")
]
"""The task's work written at the end of the notebook, below a given cell rather than right under the task."""

CLASS = {
    "full": {
        "part1.ipynb": (
            {"squares": SQUARES, "mean": MEAN, "why_empty": "The count is 0: 0 / 0."},
            {"compare": COMPARE},
        ),
        "part2.ipynb": ({"clip": CLIP, "fib": FIB}, {}),
    },
    "partial": {
        "part1.ipynb": (
            {"squares": SQUARES, "mean": MEAN_OF_TWO, "why_empty": "No idea, sorry."},
            {"end": LATE_COMPARE},
        ),
        "part2.ipynb": ({"clip": CLIP_LOW}, {}),
    },
    "blank": {"part1.ipynb": ({}, {}), "part2.ipynb": ({}, {})},
}
"""Student id -> notebook -> (cells filled in, cells added below a cell): everything, part of it, nothing."""


def _env(tmp: Path) -> dict[str, str]:
    """The environment both tools run in: HOME and TMPDIR in the test's folder, no Jupyter config but the
    course's (JUPYTER_NO_CONFIG makes an empty config folder in TMPDIR)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTER", "XDG_"))}
    for folder in ("home", "tmp"):
        (tmp / folder).mkdir()
    return env | {
        "HOME": str(tmp / "home"),
        "TMPDIR": str(tmp / "tmp"),
        "JUPYTER_NO_CONFIG": "1",
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",  # nbgrader runs alembic from it
    }


def _run(course: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], cwd=course, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout + result.stderr


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded both ways: (nbgrader's results, autograder's, the course, nbgrader's release).

    Each result: {"cells": {(student, notebook, grade_id): (points, max_points, waits_for_ta)},
    "notebooks": {(student, notebook): (score, max_score, waits)}, "totals": {student: (score, max)}}.
    """
    tmp = tmp_path_factory.mktemp("parity")
    root = tmp / "course"
    root.mkdir()
    config = f"c.Autograder.reference_cache = {str(tmp / 'references')!r}\n"
    course = write_nbgrader_course(root, ASSIGNMENT, NOTEBOOKS, config)
    env = _env(tmp)

    try:  # into a new gradebook it sometimes fails once (TOOLCHAIN-NOTES.md)
        _run(root, env, "nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    except AssertionError:
        _run(root, env, "nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    released = {
        name: nbformat.read(course.release_root / ASSIGNMENT / name, as_version=4) for name in NOTEBOOKS
    }

    for student, notebooks in CLASS.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-03-02 10:00:00.000000 UTC")
        for name, (fill, below) in notebooks.items():
            nbformat.write(hand_in(course, ASSIGNMENT, fill, below, notebook=name), folder / name)

    _run(root, env, "autograder", "release", ASSIGNMENT)  # into release/ again, as nbgrader_config.py says
    _run(root, env, "nbgrader", "autograde", ASSIGNMENT)
    nbgrader = _nbgrader_results(root)

    out = tmp / "grades"
    _run(
        root,
        env,
        "autograder",
        "grade",
        ASSIGNMENT,
        str(root / "submitted"),
        "--out",
        str(out),
        "--workers",
        "1",
    )
    assert list((tmp / "references" / ASSIGNMENT).glob("*.json")), "the reference runs are cached in tmp"
    return nbgrader, _autograder_results(out), root, released


def _nbgrader_results(root: Path) -> dict:
    cells, notebooks, totals = {}, {}, {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student in CLASS:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            totals[student] = (submission.score, submission.max_score)
            for name in NOTEBOOKS:
                notebook = gradebook.find_submission_notebook(Path(name).stem, ASSIGNMENT, student)
                notebooks[student, name] = (notebook.score, notebook.max_score, notebook.needs_manual_grade)
                for grade in notebook.grades:
                    cells[student, name, grade.name] = (
                        grade.score,
                        grade.max_score,
                        grade.needs_manual_grade,
                    )
    return {"cells": cells, "notebooks": notebooks, "totals": totals}


def _autograder_results(out: Path) -> dict:
    cells, notebooks = {}, defaultdict(lambda: (0.0, 0.0, False))
    for row in _read_csv(out / "questions.csv"):
        assert row["assignment"] == ASSIGNMENT
        student, name = row["student_id"], row["notebook"]
        points, most, waits = float(row["points"]), float(row["max_points"]), row["needs_manual_grade"] == "1"
        cells[student, name, row["question"]] = (points, most, waits)
        score, max_score, pending = notebooks[student, name]
        notebooks[student, name] = (score + points, max_score + most, pending or waits)
    totals = {}
    for row in _read_csv(out / "grades.csv"):
        assert row["status"] == "graded", row
        totals[row["student_id"]] = (float(row["score"]), float(row["max_score"]))
        waiting = sum(
            waits for (student, _, _), (_, _, waits) in cells.items() if student == row["student_id"]
        )
        assert int(row["needs_manual_grade"]) == waiting
    return {"cells": cells, "notebooks": dict(notebooks), "totals": totals}


def _points(cells: dict) -> dict:
    return {key: (points, most) for key, (points, most, _) in cells.items()}


MANUAL_ANSWERS = {"why_empty", "fib"}
TASKS = {"compare"}


def _waiting(cells: dict, kinds: tuple[str, ...] = ("answer", "task")) -> set:
    manual = {"answer": MANUAL_ANSWERS, "task": TASKS}
    return {key for key, (_, _, waits) in cells.items() if waits and any(key[2] in manual[k] for k in kinds)}


@pytest.mark.slow
def test_every_cell_gets_nbgraders_points_and_maximum(graded) -> None:
    nbgrader, autograder, _, _ = graded
    assert _points(autograder["cells"]) == _points(nbgrader["cells"])
    assert len(autograder["cells"]) == 3 * 6  # every test, written answer and task of both notebooks


@pytest.mark.slow
def test_every_notebook_and_student_gets_nbgraders_score_and_maximum(graded) -> None:
    """The maximum counts the manually graded answers and tasks, as nbgrader's max_score does."""
    nbgrader, autograder, _, _ = graded
    assert _points(autograder["notebooks"]) == _points(nbgrader["notebooks"])
    assert autograder["totals"] == nbgrader["totals"]


@pytest.mark.slow
def test_the_written_answers_nbgrader_leaves_to_a_ta_are_the_ones_autograder_leaves(graded) -> None:
    """nbgrader's rule: an answer left as released scores 0 at once and needs no TA; a changed one waits."""
    nbgrader, autograder, _, _ = graded
    assert _waiting(nbgrader["cells"], ("task",)) == {(s, "part1.ipynb", "compare") for s in CLASS}  # always
    assert _waiting(autograder["cells"], ("answer",)) == _waiting(nbgrader["cells"], ("answer",))
    assert _waiting(autograder["cells"], ("answer",)) == {
        ("full", "part1.ipynb", "why_empty"),
        ("full", "part2.ipynb", "fib"),
        ("partial", "part1.ipynb", "why_empty"),  # partial left fib as released, blank left both
    }


@pytest.mark.slow
def test_every_task_nbgrader_leaves_to_a_ta_waits_for_one(graded) -> None:
    nbgrader, autograder, _, _ = graded
    assert _waiting(autograder["cells"]) == _waiting(nbgrader["cells"])
    assert {k: waits for k, (_, _, waits) in autograder["notebooks"].items()} == {
        k: waits for k, (_, _, waits) in nbgrader["notebooks"].items()
    }


@pytest.mark.slow
def test_the_scores_are_the_ones_the_hand_ins_earn(graded) -> None:
    """Not merely equal: both give what each hand-in earns, hidden tests counted, written parts at 0 for now."""
    _, autograder, _, _ = graded
    assert autograder["totals"] == {"full": (7, 16), "partial": (2, 16), "blank": (0, 16)}
    assert _points(autograder["notebooks"]) == {
        ("full", "part1.ipynb"): (5, 11),
        ("full", "part2.ipynb"): (2, 5),
        ("partial", "part1.ipynb"): (2, 11),  # mean passes the visible test, not the hidden one
        ("partial", "part2.ipynb"): (0, 5),
        ("blank", "part1.ipynb"): (0, 11),
        ("blank", "part2.ipynb"): (0, 5),
    }


@pytest.mark.slow
def test_autograder_releases_what_nbgrader_releases(graded) -> None:
    """`autograder release` writes into nbgrader's release/ the notebooks nbgrader's generate_assignment wrote."""
    _, _, root, released = graded
    for name, theirs in released.items():
        ours = nbformat.read(root / "release" / ASSIGNMENT / name, as_version=4)
        assert [(c.cell_type, c.source, c.metadata) for c in ours.cells] == [
            (c.cell_type, c.source, c.metadata) for c in theirs.cells
        ]
        assert "MARK SCHEME" not in nbformat.writes(ours) and "HIDDEN TESTS" not in nbformat.writes(ours)
