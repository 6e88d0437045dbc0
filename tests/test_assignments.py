"""Does every assignment of the course grade its own solution full and its blank release zero?"""

import ast
import sys

import nbformat
import pytest
from conftest import REPO

from autograder.core.cells import is_answer
from autograder.core.course import Course
from autograder.grade import grade_assignment
from autograder.grading.score import graded_cells

ASSIGNMENTS = Course(REPO).assignments()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_scores_full_and_release_scores_zero(course, assignment, tmp_path):
    submissions = tmp_path / "class"
    for student, root in (("solution", course.source_root), ("blank", course.release_root)):
        for name in course.notebook_names(assignment):
            target = submissions / student / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((root / assignment / name).read_bytes())
    grades = {g.student_id: g for g in grade_assignment(course, assignment, submissions, tmp_path / "out")}
    solution, blank = grades["solution"], grades["blank"]
    assert solution.status == "graded", solution.message
    assert solution.score == solution.max_score > 0, [p for p in solution.parts if p.message]
    assert blank.score == 0, [p for p in blank.parts if not p.message]


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
