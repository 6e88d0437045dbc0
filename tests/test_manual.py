"""Written answers graded by people: nbgrader's manually graded answers and tasks, end to end.

A made-up course (tests/synthetic.py) with one autograded answer, one written answer with a mark
scheme and one task: `grade` counts them in the maximum and leaves them waiting for a TA, a TA's
score reaches grades.csv, questions.csv and the feedback page, and no re-run ever drops it.
"""

import csv
from dataclasses import replace

import nbformat
import pytest
from synthetic import grade_essay_class

from autograder.core.model import ManualScore, PartKind
from autograder.grade import grade_assignment, write_outputs
from autograder.outputs.gradebook import Gradebook, sqlite_url
from autograder.outputs.manual_scores import CHANGED_SINCE_GRADED, ManualConflict, answer_digest


def read_csv(path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The essay class, graded once: ada answers everything, bo only the code, cy leaves it all."""
    return grade_essay_class(tmp_path_factory.mktemp("essay"))


def test_written_parts_count_in_the_maximum_and_wait_for_a_ta(graded) -> None:
    _, _, out, _ = graded
    rows = {row["student_id"]: row for row in read_csv(out / "grades.csv")}
    assert {
        s: (r["score"], r["max_score"], r["status"], r["needs_manual_grade"]) for s, r in rows.items()
    } == {
        "ada": ("2", "7", "graded", "2"),
        "bo": (
            "2",
            "7",
            "graded",
            "1",
        ),  # the answer left as released: 0 at once; the task waits, as in nbgrader
        "cy": ("0", "7", "graded", "1"),
    }
    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    ada = gradebook.get("essay", "ada", "essay.ipynb")
    assert [(p.grade_id, p.kind, p.pending) for p in ada.parts] == [
        ("test_relu", PartKind.TEST, False),
        ("why", PartKind.ANSWER, True),
        ("plot", PartKind.TASK, True),
    ]
    assert ada.parts[1].answer == "Negative inputs give *zero* gradient."
    assert "straight line" in ada.parts[2].answer
    report = (out / "report.html").read_text()
    assert "Written answers waiting for a TA (4)" in report
    assert "1 of 3" in report and "3 of 3" in report
    assert not (out / "feedback.zip").read_bytes().count(b"ada/essay.html"), "held back until a TA grades it"


def test_no_mark_scheme_or_model_answer_reaches_a_student(graded) -> None:
    course, _, out, _ = graded
    released = (course.release_root / "essay" / "essay.ipynb").read_text()
    page = (out / "feedback" / "ada" / "essay.html").read_text()
    for text in (released, page):
        assert "Full marks" not in text and "MARK SCHEME" not in text
    assert "gradient is 0 for negative" not in page  # the model answer
    assert "<em>zero</em>" in page  # the student's own answer, rendered


def test_a_tas_score_reaches_every_output_and_survives_regrading(graded) -> None:
    course, submissions, out, settings = graded
    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    good = gradebook.save_rubric_item("essay", "essay.ipynb", "why", "Names the zero gradient", 3)
    ada = gradebook.get("essay", "ada", "essay.ipynb")

    why = ManualScore(
        "essay",
        "ada",
        "essay.ipynb",
        "why",
        items=(good.item_id,),
        grader="ta1",
        comment="Well put.",
        answer_digest=answer_digest(ada.parts[1].answer),
    )
    gradebook.save_manual_score(why)
    with pytest.raises(ManualConflict):  # a second TA who read version 0 as well
        gradebook.save_manual_score(why)
    plot = ManualScore(
        "essay",
        "ada",
        "essay.ipynb",
        "plot",
        adjustment=1,
        grader="ta2",
        answer_digest=answer_digest(ada.parts[2].answer),
    )
    gradebook.save_manual_score(plot)
    write_outputs(out, "essay", gradebook)

    rows = {row["student_id"]: row for row in read_csv(out / "grades.csv")}
    assert (rows["ada"]["score"], rows["ada"]["needs_manual_grade"]) == ("6", "0")
    questions = {(r["student_id"], r["question"]): r for r in read_csv(out / "questions.csv")}
    assert questions["ada", "why"]["points"] == "3"
    assert "Names the zero gradient (+3)" in questions["ada", "why"]["note"]
    page = (out / "feedback" / "ada" / "essay.html").read_text()
    assert "Well put." in page and "3 / 3" in page
    assert b"ada/essay.html" in (out / "feedback.zip").read_bytes()

    # The rubric item is worth less from now on: every answer that has it is re-graded by it.
    gradebook.save_rubric_item("essay", "essay.ipynb", "why", "Names the zero gradient", 2, good.item_id)
    assert gradebook.get("essay", "ada", "essay.ipynb").raw_score == 5

    # A full regrade replaces the autograded parts and keeps the TAs' scores.
    grade_assignment(course, "essay", submissions, out, settings=replace(settings, regrade=True))
    assert {r["student_id"]: r["score"] for r in read_csv(out / "grades.csv")}["ada"] == "5"

    # A new hand-in with another answer waits for a TA again, its old score kept until then.
    changed = nbformat.read(submissions / "ada" / "essay.ipynb", as_version=4)
    next(
        c for c in changed.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "why"
    ).source = "New text."
    nbformat.write(changed, submissions / "ada" / "essay.ipynb")
    grade_assignment(course, "essay", submissions, out, settings=settings)
    why_part = gradebook.get("essay", "ada", "essay.ipynb").parts[1]
    assert (why_part.pending, why_part.points, why_part.message) == (True, 2, CHANGED_SINCE_GRADED)
