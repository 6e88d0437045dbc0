"""Does the gradebook keep whole grades, in SQLite and in a real PostgreSQL server?

The grades are made up, and the class graded into PostgreSQL hands in the quiz of tests/synthetic.py."""

import os

import pytest
from synthetic import write_quiz_class, write_quiz_course

from autograder.core.errors import CourseError
from autograder.core.model import NotebookGrade, PartResult
from autograder.grade import grade_assignment
from autograder.outputs.gradebook import Gradebook, sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "grades.sqlite")
    return request.getfixturevalue("postgres_url")


def a_grade(score: float, student: str = "s1") -> NotebookGrade:
    return NotebookGrade(
        student_id=student,
        assignment="quiz",
        notebook="quiz.ipynb",
        status="graded",
        max_score=7.0,
        parts=[
            PartResult("test_double", score, 2.0, "" if score == 2 else "wrong"),
            PartResult("test_dense", 0.0, 5.0, "no"),
        ],
        repairs=["answer cell 'double' had lost its nbgrader id"],
        digest="abc",
        seconds=1.5,
    )


def test_a_grade_comes_back_as_it_was_stored_and_a_new_one_replaces_it(database_url):
    gradebook = Gradebook(database_url)
    gradebook.put(a_grade(1.0, "replaced"))
    gradebook.put(a_grade(2.0, "replaced"))
    stored = gradebook.get("quiz", "replaced", "quiz.ipynb")
    gradebook.close()
    assert stored == a_grade(2.0, "replaced")
    assert stored.score == 2.0


@pytest.mark.slow
def test_a_forked_child_leaves_the_parents_postgresql_session_working(postgres_url):
    # Local Dask workers are forked from the grading process: a child that closed the connection it
    # inherited would end the parent's session on the same socket.
    gradebook = Gradebook(postgres_url)
    gradebook.put(a_grade(1.0, "before-fork"))  # a connection is open in the pool now
    child = os.fork()
    if child == 0:
        try:
            gradebook.close()  # what a child's exit does with the pool it holds
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    gradebook.put(a_grade(2.0, "after-fork"))
    assert gradebook.get("quiz", "after-fork", "quiz.ipynb").score == 2.0
    gradebook.close()


def test_an_unreachable_database_is_one_clear_error():
    with pytest.raises(CourseError, match="cannot open the gradebook"):
        Gradebook("postgresql+psycopg://nobody@127.0.0.1:1/none")


@pytest.mark.slow
def test_grading_into_postgresql_gives_the_expected_grades(postgres_url, tmp_path):
    course = write_quiz_course(tmp_path / "course")
    write_quiz_class(course, tmp_path / "class")
    grades = grade_assignment(course, "quiz", tmp_path / "class", tmp_path / "out", db_url=postgres_url)
    gradebook = Gradebook(postgres_url)
    stored = {g.student_id: gradebook.get("quiz", g.student_id, g.notebook).score for g in grades}
    gradebook.close()
    assert stored == {"s230001": 7, "s230002": 2, "s230003": 5, "s230004": 7, "s230005": 0, "s230006": 2}
