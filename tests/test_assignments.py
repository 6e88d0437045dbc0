"""Does every assignment of the course serve as its own reference, and its blank release score zero?"""

import ast
import json
import sys

import nbformat
import pytest
from conftest import REPO

from autograder.authoring.publish import CHAPTER_GLOB, Secret, _secret_regions, _text_lines, _trivial
from autograder.core.cells import is_answer
from autograder.core.course import Course
from autograder.core.settings import grading_settings
from autograder.grade import GradingTarget, grade_assignment
from autograder.grading.score import graded_cells

ASSIGNMENTS = Course(REPO).assignments()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_serves_as_the_reference_and_release_scores_zero(course, assignment, tmp_path):
    """The solution runs to its end, passing and observing in every test (its run is the reference
    each hand-in is compared with), and the blank release scores zero.

    The solution is not graded again as a hand-in: that would run it twice in one run, and the
    alternative correct hand-ins of tests/test_<assignment>.py (warmup: the honest look-alikes of
    tests/test_redteam.py and the demo class) score full marks against this reference, a stronger check.
    """
    for name in course.notebook_names(assignment):
        target = tmp_path / "class" / "blank" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((course.release_root / assignment / name).read_bytes())
    # Grading records the reference first; a solution that fails a test stops it with a CourseError.
    for blank in grade_assignment(course, assignment, tmp_path / "class", tmp_path / "out"):
        assert blank.status == "graded", blank.message
        assert blank.score == 0, [p for p in blank.parts if not p.message]
    for name in course.notebook_names(assignment):
        source = nbformat.read(course.source_root / assignment / name, as_version=4)
        tests = {c.metadata["nbgrader"]["grade_id"] for c in graded_cells(source)}
        reference = (
            GradingTarget.load(course, assignment, name)
            .with_reference(grading_settings(course.root))
            .reference
        )
        assert set(reference.observed) == tests, f"{assignment}/{name}: the reference misses tests"
        assert not reference.unobserved(), f"{assignment}/{name}: tests that observe nothing"


def test_every_graded_part_is_worth_points(course):
    for assignment in ASSIGNMENTS:
        for name in course.notebook_names(assignment):
            notebook = nbformat.read(course.source_root / assignment / name, as_version=4)
            cells = graded_cells(notebook)
            assert cells, f"{assignment}/{name} has no graded test cell"
            for cell in cells:
                assert cell.metadata["nbgrader"].get("points", 0) > 0, cell.metadata["nbgrader"]["grade_id"]


def imported_packages(code: str) -> set[str]:
    """Top-level packages a piece of code imports, standard library left out."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics in a given cell
        return set()
    modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    modules += [
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level
    ]
    return {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_libraries_of_the_hidden_tests_are_imported_before_the_first_answer(course, assignment):
    """The guard restores what was loaded before the first answer: are the tests' libraries among it?"""
    for name in course.notebook_names(assignment):
        cells = nbformat.read(course.source_root / assignment / name, as_version=4).cells
        first_answer = next(i for i, cell in enumerate(cells) if is_answer(cell))
        given = set().union(
            *(imported_packages(c.source) for c in cells[:first_answer] if c.cell_type == "code")
        )
        used = set().union(
            *(imported_packages(c.source) for c in graded_cells(nbformat.from_dict({"cells": cells})))
        )
        assert used <= given, (
            f"{assignment}/{name}: import {sorted(used - given)} in a given cell before the first answer"
        )


# Lines every training loop of the course is made of, or that the interface an assignment fixes
# spells out (the history's keys): a student cannot be asked for them without having seen them, so
# a chapter or another assignment may print them. Anything else a solution holds is an answer.
COMMON_LINES = {
    "loss.backward()",
    "optimizer.step()",
    "optimizer.zero_grad()",
    "model.to(device)",
    "loss_fn = nn.CrossEntropyLoss()",
    "optimizer = torch.optim.Adam(model.parameters(), lr=lr)",
    "model.load_state_dict(best_state)",
    "for _ in range(epochs):",
    "for xb, yb in loader:",
    "logits = model(xb)",
    "xb, yb = xb.to(device), yb.to(device)",
    "total += loss_fn(logits, yb).item() * len(yb)",  # mlp: "weight each batch's mean loss by its size"
    'history = {"train_loss": [], "val_loss": [], "val_accuracy": []}',
    'history["val_loss"].append(val_loss)',
    'history["val_accuracy"].append(val_accuracy)',
    "return history",
    "return grads",
    "return losses",
    "rng = np.random.default_rng(seed)",
    "down[i] -= h",
    "order.append(node)",
    "self.grad = 0.0",
}


def answers(course, assignment: str) -> set[str]:
    """The solution lines of an assignment that its release does not show and its own text does not quote.

    Lines too short or too plain to tell from a coincidence are left out, as `autograder publish` does.
    """
    lines = set()
    for name in course.notebook_names(assignment):
        cells = json.loads((course.source_root / assignment / name).read_text(encoding="utf-8"))["cells"]
        regions = [(line, kind) for cell in cells for line, kind in _secret_regions(cell)]
        shown = {line for line, kind in regions if kind is None}
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        lines |= {
            line
            for line, kind in regions
            if kind is Secret.SOLUTION and not _trivial(line) and line not in shown and line not in text
        }
    return lines - COMMON_LINES


def places_students_read(course, assignment: str) -> list[str]:
    """The chapters and every other assignment's released notebooks."""
    places = [p.relative_to(course.root).as_posix() for p in sorted(course.root.glob(CHAPTER_GLOB))]
    places += [
        f"{course.release_root.relative_to(course.root).as_posix()}/{other}/{name}"
        for other in ASSIGNMENTS
        if other != assignment
        for name in course.notebook_names(other)
    ]
    return places


@pytest.mark.parametrize(
    ("assignment", "place"),
    [(a, place) for a in ASSIGNMENTS for place in places_students_read(Course(REPO), a)],
)
def test_no_solution_line_appears_in_a_chapter_or_another_assignment(course, assignment, place):
    """Does a chapter, or another assignment's release, hand out a line of this assignment's answers?"""
    printed = answers(course, assignment) & _text_lines(course.root / place)
    assert not printed, f"{place} prints {len(printed)} solution lines of {assignment}: {sorted(printed)}"


def test_the_benchmarks_nbgrader_warmup_has_the_sources_cells_and_points(course):
    """bench/grading.py lets plain nbgrader grade bench/nbgrader/warmup.ipynb, warmup with its hidden
    checks as in-kernel asserts: it must keep the source's cells, ids and points, or nbgrader scores
    every hand-in of the demo class 0 (as it did when warmup gained its written part)."""

    def graded_parts(path):
        cells = nbformat.read(path, as_version=4).cells
        return [
            (c.cell_type, c.metadata["nbgrader"].get("grade_id"), c.metadata["nbgrader"].get("points"))
            for c in cells
            if "nbgrader" in c.metadata
        ]

    source = course.source_root / "warmup" / "warmup.ipynb"
    assert graded_parts(REPO / "bench" / "nbgrader" / "warmup.ipynb") == graded_parts(source)
