"""Does every assignment of the course grade its own solution full and its blank release zero?"""

import nbformat
import pytest
from conftest import REPO

from autograder.course import Course
from autograder.grade import grade_assignment
from autograder.score import graded_cells

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
