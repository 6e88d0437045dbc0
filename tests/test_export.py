"""Do the grade files import into Canvas and Moodle as they are, with the LMS's own ids and names?

The grades are made up here, and the one full run grades the quiz of tests/synthetic.py, not a course assignment."""

import csv
import io
import re
import zipfile
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from synthetic import write_quiz_course

from autograder.cli import cli
from autograder.core.errors import CourseError
from autograder.core.model import NotebookGrade, PartResult, Student
from autograder.intake.roster import write_roster
from autograder.outputs.export import MOODLE_HEADER, export_grades, moodle_folder_name
from autograder.outputs.feedback import feedback_path, write_feedback

NOW = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


def make_grade(student_id, points, status="graded", **fields):
    """A quiz grade with parts worth 2, 3 and 2 points, of which `points` were earned."""
    maxima = {"test_double": 2.0, "test_square": 3.0, "test_length": 2.0}
    parts = [
        PartResult(name, got, top, "" if got == top else f"{name} failed")
        for (name, top), got in zip(maxima.items(), points, strict=True)
    ]
    return NotebookGrade(student_id, "quiz", "quiz.ipynb", status, 7.0, parts, **fields)


@pytest.fixture
def graded(tmp_path):
    """Three graded students with their feedback pages; one handed in late and lost a point."""
    grades = [
        make_grade("s1", [2, 3, 2]),
        make_grade("s2", [2, 0, 2], late_seconds=7200, penalty=1.0, submitted_at="2026-03-02T01:00:00+01:00"),
        make_grade("s3", [0, 0, 0], "missing", message="no notebook handed in"),
    ]
    for grade in grades:
        write_feedback(feedback_path(tmp_path, grade), grade, None)
    return tmp_path, grades


ROSTER = {
    "s1": Student("s1", "Ana López_García", "moodle", "4711"),
    "s2": Student("s2", "Bo Chen", "moodle", "4712", "2026-03-02T01:00:00+01:00"),
    "s3": Student("s3", "Cy Diaz", "moodle", "4713"),
}


def rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_canvas_csv_has_canvas_header_points_row_and_scores_after_penalty(graded):
    out, grades = graded
    export_grades(out, grades, ROSTER, ["canvas"], NOW)
    assert rows(out / "canvas.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "quiz"],
        ["Points Possible", "", "", "", "", "7"],
        ["Ana López_García", "4711", "", "", "", "7"],
        ["Bo Chen", "4712", "", "", "", "3"],
        ["Cy Diaz", "4713", "", "", "", "0"],
    ]
    assert not (out / "moodle.csv").exists()


def test_without_a_roster_the_student_id_stands_in_for_the_lms_id(graded):
    out, grades = graded
    export_grades(out, grades, {}, ["canvas", "moodle"], NOW)
    assert rows(out / "canvas.csv")[2:] == [
        ["s1", "s1", "s1", "", "", "7"],
        ["s2", "s2", "s2", "", "", "3"],
        ["s3", "s3", "s3", "", "", "0"],
    ]
    assert [row[:2] for row in rows(out / "moodle.csv")[1:]] == [
        ["Participant s1", "s1"],
        ["Participant s2", "s2"],
        ["Participant s3", "s3"],
    ]


def test_moodle_worksheet_names_participants_and_carries_a_feedback_comment(graded):
    out, grades = graded
    export_grades(out, grades, ROSTER, ["moodle"], NOW)
    header, *body = rows(out / "moodle.csv")
    assert header == MOODLE_HEADER
    assert header[0] == "Identifier" and "Grade" in header and "Last modified (grade)" in header
    stamp = "2026-03-04T10:15:00+00:00"
    assert body[0] == [
        "Participant 4711",
        "Ana López_García",
        "",
        "graded",
        "7",
        "7",
        "Yes",
        "-",
        stamp,
        "Score 7 / 7. Details in the attached feedback page.",
    ]
    assert body[1][:9] == [
        "Participant 4712",
        "Bo Chen",
        "",
        "graded",
        "3",
        "7",
        "Yes",
        "2026-03-02T01:00:00+01:00",
        stamp,
    ]
    assert body[1][9] == (
        "Score 3 / 7. Late hand-in: 1 points off. "
        "Lost points: test_square (test_square failed). Details in the attached feedback page."
    )
    assert body[2][3:5] == ["missing", "0"]


def test_scores_use_a_decimal_point_and_two_decimals_at_most(tmp_path):
    grade = make_grade("s1", [2, 3, 2], penalty=0.6666666)
    export_grades(tmp_path, [grade], ROSTER, ["canvas", "moodle"], NOW)
    assert rows(tmp_path / "canvas.csv")[2][5] == "6.33"
    assert rows(tmp_path / "moodle.csv")[1][4] == "6.33"
    assert rows(tmp_path / "grades.csv")[1][2] == "6.33333"


def test_feedback_zip_holds_every_page_by_student_id(graded):
    out, grades = graded
    paths = export_grades(out, grades, ROSTER, [], NOW)
    assert [p.name for p in paths] == ["grades.csv", "questions.csv", "feedback.zip"]
    with zipfile.ZipFile(out / "feedback.zip") as archive:
        assert archive.namelist() == ["s1/quiz.html", "s2/quiz.html", "s3/quiz.html"]
        assert archive.read("s2/quiz.html") == (out / "feedback" / "s2" / "quiz.html").read_bytes()
        assert archive.testzip() is None
    assert not (out / "feedback-moodle.zip").exists()


def test_moodle_feedback_zip_uses_the_folder_names_of_moodles_download(graded):
    out, grades = graded
    export_grades(out, grades, ROSTER, ["moodle"], NOW)
    with zipfile.ZipFile(out / "feedback-moodle.zip") as archive:
        names = archive.namelist()
        page = archive.read("Bo Chen_4712_assignfeedback_file_/quiz.html").decode()
    # Moodle reads the participant id between the first two underscores of the folder name.
    assert names == [
        "Ana López García_4711_assignfeedback_file_/quiz.html",
        "Bo Chen_4712_assignfeedback_file_/quiz.html",
        "Cy Diaz_4713_assignfeedback_file_/quiz.html",
    ]
    assert all(name.split("_")[1].isdigit() for name in names)
    assert "Score: 3 / 7" in page


def test_folder_names_drop_what_moodle_drops():
    assert moodle_folder_name(Student("x", 'A/B: "C"_D')) == "AB C D"
    assert moodle_folder_name(Student("x")) == "Participant"


def test_an_unknown_format_is_one_clear_error(graded):
    out, grades = graded
    with pytest.raises(CourseError, match="unknown export format 'blackboard'; known formats: csv, canvas"):
        export_grades(out, grades, ROSTER, ["blackboard"], NOW)
    result = CliRunner().invoke(cli, ["grade", "quiz", str(out), "--out", str(out), "--format", "blackboard"])
    assert result.exit_code != 0
    assert "'blackboard' is not one of 'csv', 'canvas', 'moodle'" in result.output
    assert "Traceback" not in result.output


def test_grade_writes_lms_files_with_the_rosters_identities(make_class, tmp_path):
    course = write_quiz_course(tmp_path / "course")
    submissions = make_class(
        {
            "teacher": course.source_root / "quiz" / "quiz.ipynb",
            "blank": course.release_root / "quiz" / "quiz.ipynb",
        },
        "quiz.ipynb",
    )
    write_roster(
        submissions,
        [Student("teacher", "Tea Cher", "moodle", "901"), Student("blank", "Bla Nk", "moodle", "902")],
    )
    out = tmp_path / "out"
    command = ["grade", "quiz", str(submissions), "--out", str(out), "--course", str(course.root)]
    result = CliRunner().invoke(cli, [*command, "--format", "canvas", "--format", "moodle"])
    assert result.exit_code == 0, result.output
    for name in ["feedback.zip", "canvas.csv", "moodle.csv", "feedback-moodle.zip"]:
        assert f"wrote {out / name}\n" in result.output
    assert "no roster" not in result.output
    with zipfile.ZipFile(out / "feedback.zip") as archive:
        assert archive.namelist() == ["blank/quiz.html"], "the teacher's written part 4 waits for a TA"
    assert "1 written part(s) wait for a TA" in rows(out / "moodle.csv")[2][9]

    # The TA's score of the written part reaches every LMS file, and the page goes out with it.
    scores = tmp_path / "scores.csv"
    scores.write_text("student_id,question,points,comment\nteacher,why,2,Complete.\n")
    review = ["review", "quiz", "--out", str(out), "--import", str(scores), "--course", str(course.root)]
    result = CliRunner().invoke(cli, review)  # rewrites the LMS files the grading run wrote
    assert result.exit_code == 0, result.output
    assert rows(out / "canvas.csv")[2:] == [
        ["Bla Nk", "902", "", "", "", "0"],
        ["Tea Cher", "901", "", "", "", "9"],
    ]
    assert [row[:5] for row in rows(out / "moodle.csv")[1:]] == [
        ["Participant 902", "Bla Nk", "", "graded", "0"],
        ["Participant 901", "Tea Cher", "", "graded", "9"],
    ]
    with zipfile.ZipFile(out / "feedback.zip") as archive:
        assert archive.namelist() == ["blank/quiz.html", "teacher/quiz.html"]
        page = archive.read("teacher/quiz.html").decode()
        assert "Score: 9 / 9" in page and "Complete." in page
    with zipfile.ZipFile(out / "feedback-moodle.zip") as archive:
        assert sorted(archive.namelist()) == [
            "Bla Nk_902_assignfeedback_file_/quiz.html",
            "Tea Cher_901_assignfeedback_file_/quiz.html",
        ]
    report = (out / "report.html").read_text()
    assert "<img alt='Histogram of the 2 students&#x27; scores out of 9: 1 scored 0, 1 scored 9.'" in report
    assert not re.search(r"https?:|(src|href)=['\"]//", report)  # loads nothing from the network


def test_csv_rows_survive_commas_and_quotes_in_names(tmp_path):
    grade = make_grade("s1", [2, 3, 2])
    roster = {"s1": Student("s1", 'Doe, "JJ" Jane', "canvas", "77")}
    export_grades(tmp_path, [grade], roster, ["canvas"], NOW)
    text = (tmp_path / "canvas.csv").read_text(encoding="utf-8")
    assert '"Doe, ""JJ"" Jane",77,,,,7\n' in text
    assert next(csv.reader(io.StringIO(text.splitlines()[2]))) == ['Doe, "JJ" Jane', "77", "", "", "", "7"]
