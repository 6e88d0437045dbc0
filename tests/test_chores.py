"""Teacher chores, one setting each: excluded and excused students, deadline extensions, hidden tests
kept out of the feedback.

The settings live in the course's nbgrader_config.py (`c.Autograder`); the unit tests read them from a
file of their own, the end-to-end ones grade a made-up course (tests/synthetic.py) on one worker.
"""

import csv
import io
import zipfile
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from synthetic import answer, check, given, hand_in, write_course

from autograder.cli import cli
from autograder.core.attendance import Attendance, load_attendance
from autograder.core.config import GradingSettings
from autograder.core.errors import CourseError
from autograder.core.late import apply_late, load_policy
from autograder.core.model import NotebookGrade, PartResult, Status
from autograder.grade import grade_assignment
from autograder.outputs.export import export_grades
from autograder.outputs.nbgrader import write_nbgrader_feedback


def configure(root: Path, *lines: str) -> None:
    (root / "nbgrader_config.py").write_text("\n".join(["c = get_config()", *lines]) + "\n")


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def grade_of(student: str, status: Status = Status.GRADED, points: float = 3.0) -> NotebookGrade:
    return NotebookGrade(
        student, "quiz", "quiz.ipynb", status, 5.0, parts=[PartResult("test_a", points, 5.0)]
    )


# --- extensions ----------------------------------------------------------------------------------


DEADLINE = 'c.Autograder.deadlines = {"quiz": "2026-12-01 23:59 Europe/Copenhagen"}'


def test_an_extension_moves_the_deadline_of_that_student_alone(tmp_path) -> None:
    configure(
        tmp_path,
        DEADLINE,
        "c.Autograder.late_penalty_per_day = 0.1",
        'c.Autograder.extensions = {"quiz": {"s2": "2026-12-08 23:59 Europe/Copenhagen", "s3": "48h"}}',
    )
    policy = load_policy(tmp_path, "quiz", ["quiz", "essay"])
    four_days_late = "2026-12-05T12:00:00+01:00"
    others = apply_late(grade_of("s1"), four_days_late, policy)
    assert others.penalty == 2.0 and "after the deadline of 2026-12-01 23:59+01:00" in others.late_note
    extended = apply_late(grade_of("s2"), four_days_late, policy)
    assert (extended.penalty, extended.late_note, extended.is_late) == (0.0, "", False)
    by_48h = apply_late(grade_of("s3"), four_days_late, policy)  # due 2026-12-03 23:59: 2 started days
    assert by_48h.penalty == 1.0
    assert "after the extended deadline of 2026-12-03 23:59+01:00" in by_48h.late_note
    assert "the deadline was 2026-12-01 23:59+01:00" in by_48h.late_note
    # Canvas's LATE judged the hand-in by Canvas's deadline, which the extension replaces.
    assert not apply_late(grade_of("s2"), "", policy, marked_late=True).is_late
    assert apply_late(grade_of("s1"), "", policy, marked_late=True).is_late
    attendance = load_attendance(tmp_path, "quiz", ["quiz", "essay"])
    assert (
        attendance.extensions["s2"] == "extension to 2026-12-08 23:59+01:00 (deadline 2026-12-01 23:59+01:00)"
    )


@pytest.mark.parametrize(
    ("extensions", "says"),
    [
        (
            '{"qiuz": {"s2": "48h"}}',
            "c.Autograder.extensions names 'qiuz', not an assignment; did you mean 'quiz'?",
        ),
        (
            '{"quiz": {"s2": "next friday"}}',
            "c.Autograder.extensions['quiz']['s2']: cannot read 'next friday'",
        ),
        ('{"quiz": {"s2": "2026-11-20 23:59 Europe/Copenhagen"}}', "is before the deadline"),
        ('{"quiz": ["s2"]}', "must map student ids to new deadlines"),
        ('{"essay": {"s2": "48h"}}', "'48h' extends the deadline, but 'essay' has none"),
    ],
)
def test_a_wrong_extension_is_one_line_naming_the_setting(tmp_path, extensions, says) -> None:
    configure(tmp_path, DEADLINE, f"c.Autograder.extensions = {extensions}")
    assignment = "essay" if "'essay'" in says else "quiz"
    with pytest.raises(CourseError, match=None) as error:
        load_policy(tmp_path, assignment, ["quiz", "essay"])
    assert says in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith("nbgrader_config.py: c.Autograder.extensions")


# --- excluded and excused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ('c.Autograder.excused = {"qiuz": {"s5": "ill"}}', "names 'qiuz', not an assignment"),
        ('c.Autograder.excused = {"quiz": ["s5"]}', "must map student ids to reasons"),
        ("c.Autograder.excluded = [230099]", "must be a list of student ids"),
        (
            'c.Autograder.excluded = ["s5"]\nc.Autograder.excused = {"quiz": {"s5": "ill"}}',
            "both excluded and excused",
        ),
    ],
)
def test_a_wrong_attendance_setting_is_one_line(tmp_path, lines, says) -> None:
    configure(tmp_path, lines)
    with pytest.raises(CourseError) as error:
        load_attendance(tmp_path, "quiz", ["quiz"])
    assert says in str(error.value) and "\n" not in str(error.value)


def test_the_outputs_leave_out_the_excluded_and_mark_the_excused(tmp_path) -> None:
    attendance = Attendance(
        excluded=frozenset({"s9"}), excused={"s5": "medical certificate", "s6": "exchange semester"}
    )
    grades = [grade_of("s1"), grade_of("s5", points=4.0), grade_of("s9")]
    shown = attendance.apply(grades)
    assert [(g.student_id, g.status, g.score) for g in shown] == [
        ("s1", Status.GRADED, 3.0),
        ("s5", Status.EXCUSED, 4.0),  # still graded, the grade visible, flagged
        ("s6", Status.EXCUSED, 0.0),  # handed nothing in: a row all the same
    ]
    assert shown[1].message == "excused (medical certificate); graded as graded"
    assert grades[1].status == Status.GRADED, "the stored grade is not changed"
    assert attendance.summary(attendance.left_out(g.student_id for g in grades)) == (
        "left out 1 excluded student (c.Autograder.excluded in nbgrader_config.py): s9"
    )

    export_grades(tmp_path, shown, formats=("canvas", "moodle"))
    rows = {r["student_id"]: r for r in read_csv(tmp_path / "grades.csv")}
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == {
        "s1": ("3", "graded"),
        "s5": ("4", "excused"),
        "s6": ("0", "excused"),
    }
    canvas = {r["ID"]: r["quiz"] for r in read_csv(tmp_path / "canvas.csv")}
    assert (canvas["s1"], canvas["s5"], canvas["s6"]) == ("3", "EX", "EX")
    moodle = {r["Identifier"]: r for r in read_csv(tmp_path / "moodle.csv")}
    assert moodle["Participant s5"]["Grade"] == "" and moodle["Participant s5"]["Status"] == "excused"
    comment = moodle["Participant s5"]["Feedback comments"]
    assert "excused" in comment and "medical" not in comment, "the reason is the teacher's"


# --- end to end: a graded class ------------------------------------------------------------------

SECRET_LINE = "observe('relu at the probe 7.25', relu(np.array([-7.25, 7.25])))"
"""A distinctive line of a hidden test, which no file a student receives may hold when hidden."""
HIDDEN_ASSERT = "assert relu(np.array([-1.0]))[0] == 0.0"
VISIBLE_LINE = "assert relu(np.array([2.0]))[0] == 2.0, 'relu keeps positive numbers'"
COURSE = [
    given("import numpy as np"),
    given("## Part 1: ReLU", kind="markdown"),
    answer("relu", "def relu(x):\n    ### BEGIN SOLUTION\n    return np.maximum(x, 0)\n    ### END SOLUTION"),
    check(
        "test_relu",
        f"{VISIBLE_LINE}\n### BEGIN HIDDEN TESTS\n{HIDDEN_ASSERT}\n{SECRET_LINE}\n### END HIDDEN TESTS",
        points=2,
    ),
    given("## Part 2: double", kind="markdown"),
    answer("double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
    check("test_double", "observe('double 3', double(3))", points=1),
]
RELU = "def relu(x):\n    return np.maximum(x, 0)"
# A student who prints everything the kernel ran so far, hidden tests included if it can see them.
PEEK = nbformat.v4.new_code_cell("print('\\n'.join(str(cell) for cell in In))")
CLASS = {
    "ok": ({"relu": RELU, "double": "def double(x):\n    return x + x"}, {}),
    "wrong": ({"relu": "def relu(x):\n    return np.abs(x)"}, {}),
    "peek": ({"relu": RELU}, {"double": [PEEK]}),
    "gone": ({"relu": RELU}, {}),
}


@pytest.fixture(scope="module")
def chores_class(tmp_path_factory):
    """The made-up course, its class handed in as folders with nbgrader's submission secrets."""
    root = tmp_path_factory.mktemp("chores")
    course = write_course(root, "relu", COURSE)
    submissions = root / "submissions"
    for student, (fill, below) in CLASS.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(hand_in(course, "relu", fill, below), submissions / student / "relu.ipynb")
        (submissions / student / "submission_secret.txt").write_text(f"secret-of-{student}")
    settings = GradingSettings(workers=1, reference_cache=str(root / "references"))
    return course, submissions, root / "out", settings


def received_files(out: Path, nbgrader_root: Path) -> dict[str, str]:
    """Every file a student receives, by name: the pages, both zips' entries, Moodle's comments and
    nbgrader's feedback folder."""
    files = {str(p): p.read_text(encoding="utf-8") for p in (out / "feedback").rglob("*") if p.is_file()}
    for archive in ("feedback.zip", "feedback-moodle.zip"):
        with zipfile.ZipFile(out / archive) as zipped:
            files |= {f"{archive}:{n}": zipped.read(n).decode("utf-8") for n in zipped.namelist()}
    files["moodle.csv"] = (out / "moodle.csv").read_text(encoding="utf-8")
    files |= {str(p): p.read_text(encoding="utf-8") for p in nbgrader_root.rglob("*") if p.is_file()}
    return files


def test_hidden_tests_stay_hidden_in_every_file_a_student_receives(chores_class) -> None:
    course, submissions, out, settings = chores_class
    configure(course.root, "c.Autograder.hidden_tests_in_feedback = False")
    said: list[str] = []
    grade_assignment(
        course, "relu", submissions, out, settings=settings, formats=("moodle",), say=said.append
    )
    nbgrader_root = course.root / "nbgrader-feedback"
    from autograder.outputs.gradebook import Gradebook, sqlite_url

    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    grades = gradebook.grades_of("relu")
    gradebook.close()
    assert len(write_nbgrader_feedback(nbgrader_root, "relu", out, submissions, grades).written) == 4

    files = received_files(out, nbgrader_root)
    assert len([name for name in files if name.endswith(".html")]) == 4 * 4  # pages, 2 zips, nbgrader
    for name, text in files.items():
        for secret in (SECRET_LINE, HIDDEN_ASSERT, "relu at the probe", "BEGIN HIDDEN TESTS"):
            assert secret.replace("'", "&#x27;") not in text and secret not in text, f"{secret!r} in {name}"
    wrong = (out / "feedback" / "wrong" / "relu.html").read_text()
    assert VISIBLE_LINE.replace("'", "&#x27;") in wrong, "the visible tests show as released"
    assert "a hidden test failed (its code is not shown)" in wrong
    assert "hidden tests ran here" in wrong
    peek = (out / "feedback" / "peek" / "relu.html").read_text()
    assert "[output left out: it showed the code of a hidden test]" in peek, "the kernel's history holds them"
    rows = {r["student_id"]: r["score"] for r in read_csv(out / "grades.csv")}
    assert rows == {"ok": "3", "wrong": "0", "peek": "2", "gone": "2"}

    # The default, nbgrader's way, shows them: the setting changed, so the pages are written again.
    configure(course.root, "c.Autograder.hidden_tests_in_feedback = True")
    grade_assignment(course, "relu", submissions, out, settings=settings)
    ok = (out / "feedback" / "ok" / "relu.html").read_text()
    assert SECRET_LINE.replace("'", "&#x27;") in ok


def test_excluded_and_excused_students_in_a_graded_class(chores_class) -> None:
    course, submissions, out, settings = chores_class
    configure(
        course.root,
        'c.Autograder.excluded = ["gone"]',
        'c.Autograder.excused = {"relu": {"wrong": "medical certificate", "absent": "exchange semester"}}',
    )
    said: list[str] = []
    grade_assignment(
        course, "relu", submissions, out, settings=settings, formats=("canvas",), say=said.append
    )
    assert "left out 1 excluded student (c.Autograder.excluded in nbgrader_config.py): gone" in said
    rows = {r["student_id"]: (r["score"], r["status"]) for r in read_csv(out / "grades.csv")}
    assert rows == {
        "ok": ("3", "graded"),
        "wrong": ("0", "excused"),
        "peek": ("2", "graded"),
        "absent": ("0", "excused"),
    }
    assert not (out / "feedback" / "gone").exists() or not list((out / "feedback" / "gone").iterdir())
    for name in ("questions.csv", "canvas.csv", "report.html"):
        assert "gone" not in (out / name).read_text() or name == "report.html"
    with zipfile.ZipFile(out / "feedback.zip") as zipped:
        assert not [n for n in zipped.namelist() if n.startswith("gone/")]
    canvas = {r["ID"]: r["relu"] for r in read_csv(out / "canvas.csv")}
    assert canvas["wrong"] == "EX" and canvas["absent"] == "EX"
    report = (out / "report.html").read_text()
    assert "medical certificate" in report and "Left out (1)" in report
    assert "2 students, 2 notebooks" in report, "the excused count in no figure"
    assert "medical" not in (out / "feedback" / "wrong" / "relu.html").read_text()

    runner = CliRunner()
    result = runner.invoke(
        cli, ["export", "relu", "--out", str(out), "--course", str(course.root), "--format", "moodle"]
    )
    assert result.exit_code == 0, result.output
    assert "left out 1 excluded student" in result.output
    result = runner.invoke(
        cli,
        [
            "grade",
            "relu",
            str(submissions),
            "--out",
            str(out),
            "--course",
            str(course.root),
            "--student",
            "gone",
        ],
    )
    assert result.exit_code == 1
    assert "'gone' is excluded (c.Autograder.excluded in nbgrader_config.py)" in result.output
    assert "Traceback" not in result.output
    moodle = io.StringIO((out / "moodle.csv").read_text())
    assert {r["Identifier"]: r["Grade"] for r in csv.DictReader(moodle)}["Participant wrong"] == ""
