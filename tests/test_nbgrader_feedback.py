"""`autograder nbgrader-feedback`: feedback pages laid out so that nbgrader's own release_feedback hands them out."""

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from nbgrader.utils import notebook_hash
from synthetic import write_quiz_course

from autograder.cli import cli
from autograder.core.model import NotebookGrade
from autograder.outputs.nbgrader import write_nbgrader_feedback

BIN = Path(sys.executable).parent


def _graded(out: Path, student: str, text: str) -> NotebookGrade:
    page = out / "feedback" / student / "quiz.html"
    page.parent.mkdir(parents=True)
    page.write_text(text)
    return NotebookGrade(
        student, "quiz", "quiz.ipynb", "graded", 7.0, submitted_at="2026-12-01T10:00:00+00:00"
    )


def test_pages_go_where_nbgrader_release_feedback_finds_them_under_the_submissions_secret(tmp_path):
    out, submissions, course = tmp_path / "out", tmp_path / "out" / "submissions", tmp_path / "course"
    grades = [_graded(out, "s1", "<p>page of s1</p>"), _graded(out, "s2", "<p>page of s2</p>")]
    grades.append(NotebookGrade("s3", "quiz", "quiz.ipynb", "missing", 7.0))
    (submissions / "s1").mkdir(parents=True)
    (submissions / "s1" / "submission_secret.txt").write_text("secret-of-s1")
    (submissions / "s2").mkdir()  # handed in some other way than `nbgrader submit`: no secret

    result = write_nbgrader_feedback(course / "feedback", "quiz", out, submissions, grades)

    folder = course / "feedback" / "s1" / "quiz"
    assert result.written == [folder / "quiz.html"]
    assert result.without_secret == ["s2"]  # s3 handed nothing in: no page and no complaint
    assert (folder / "quiz.html").read_text() == "<p>page of s1</p>"
    assert (folder / "submission_secret.txt").read_text() == "secret-of-s1"
    assert (folder / "timestamp.txt").read_text() == "2026-12-01T10:00:00+00:00"
    assert not (course / "feedback" / "s2").exists()

    # nbgrader's own release puts the page in the exchange under the name the student's fetch looks for.
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    released = subprocess.run(
        [
            str(BIN / "nbgrader"),
            "release_feedback",
            "quiz",
            "--course=dl101",
            f"--Exchange.root={exchange}",
        ],
        cwd=course,
        env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert released.returncode == 0, released.stderr
    name = notebook_hash(secret="secret-of-s1", notebook_id="quiz") + ".html"
    assert [p.name for p in (exchange / "dl101" / "feedback").iterdir()] == [name]
    assert (exchange / "dl101" / "feedback" / name).read_text() == "<p>page of s1</p>"


def test_without_a_graded_class_it_says_what_to_do_in_one_line(tmp_path):
    course = write_quiz_course(tmp_path / "course")
    command = ["nbgrader-feedback", "quiz", "--out", str(tmp_path / "grades"), "--course", str(course.root)]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    assert "no hand-ins from nbgrader" in result.output and "autograder grade quiz submitted" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
