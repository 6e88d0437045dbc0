"""Does `autograder grade` read the LMS downloads as teachers get them, safely, and charge late hand-ins?

The hand-ins are the made-up quiz of synthetic.py (9 points, 7 autograded), not a course assignment."""

import csv
import sqlite3
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from lms_samples import (
    BLANK,
    SOLUTION,
    brightspace_zip,
    canvas_zip,
    moodle_zip,
    nbgrader_submitted,
    symlink_zip,
    write_zip,
    zip_bytes,
)
from synthetic import write_quiz_course

from autograder.cli import cli
from autograder.core.config import UnzipLimits
from autograder.core.errors import CourseError
from autograder.core.late import LatePolicy, apply_late, load_policy, parse_deadline
from autograder.core.model import NotebookGrade, PartResult
from autograder.intake.lms import prepare_submissions
from autograder.intake.roster import read_roster
from autograder.outputs.gradebook import Gradebook, sqlite_url
from autograder.outputs.report import render_report

CPH = ZoneInfo("Europe/Copenhagen")
DEADLINE = datetime(2026, 12, 1, 23, 59, tzinfo=CPH)
ON_TIME = datetime(2026, 11, 30, 10, 15)
LATE = datetime(2026, 12, 2, 9, 5)


def unpack(source, tmp_path, policy=None, limits=None):
    policy = policy or LatePolicy(deadline=DEADLINE)
    return prepare_submissions(source, tmp_path / "out", "quiz", tmp_path, policy, limits or UnzipLimits())


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_moodle_folders_give_participant_ids_names_upload_times_and_the_exact_files(tmp_path):
    download = moodle_zip(
        tmp_path / "moodle.zip",
        [
            ("Jane Doe", "1001", ON_TIME, {"quiz.ipynb": SOLUTION}),
            ("Søren Ærø", "1002", LATE, {"quiz.ipynb": BLANK, "notes.txt": b"hi"}),
        ],
    )
    before = download.read_bytes()
    prepared = unpack(download, tmp_path)
    assert prepared.lms == "moodle"
    assert prepared.summary().startswith("Moodle submissions detected: 2 students")
    folder = tmp_path / "out" / "submissions"
    assert prepared.folder == folder
    assert files_under(folder) == [
        "1001",
        "1001/quiz.ipynb",
        "1002",
        "1002/notes.txt",
        "1002/quiz.ipynb",
        "students.csv",
    ], "the online-text folder holds no notebook and is left out"
    assert (folder / "1001" / "quiz.ipynb").read_bytes() == SOLUTION
    assert (folder / "1002" / "quiz.ipynb").read_bytes() == BLANK
    roster = read_roster(folder)
    assert roster["1002"].name == "Søren Ærø" and roster["1002"].lms == "moodle"
    assert roster["1002"].lms_user_id == "1002"
    assert roster["1001"].submitted_at == "2026-11-30T10:15:00+01:00", "read in the deadline's zone"
    assert download.read_bytes() == before, "the download is never changed"


def test_moodle_entry_times_that_are_the_download_time_are_not_taken_as_hand_in_times(tmp_path):
    download_time = datetime(2027, 1, 10, 9, 0)
    download = moodle_zip(
        tmp_path / "moodle.zip",
        [(f"Student {n}", str(n), download_time, {"quiz.ipynb": SOLUTION}) for n in range(3)],
    )
    prepared = unpack(download, tmp_path)
    assert {s.submitted_at for s in prepared.students.values()} == {""}


def test_moodle_flat_layout_of_older_versions(tmp_path):
    download = write_zip(
        tmp_path / "flat.zip",
        [("Jane Doe_1001_assignsubmission_file_quiz.ipynb", SOLUTION, ON_TIME)],
    )
    prepared = unpack(download, tmp_path)
    assert prepared.lms == "moodle"
    assert (prepared.folder / "1001" / "quiz.ipynb").read_bytes() == SOLUTION


def test_canvas_gives_user_ids_the_late_mark_and_original_names_but_no_times(tmp_path):
    download = canvas_zip(
        tmp_path / "submissions.zip",
        [
            ("doejane", "55501", False, {"quiz.ipynb": SOLUTION}),
            ("hansenole", "55502", True, {"quiz-1.ipynb": BLANK}),
        ],
    )
    prepared = unpack(download, tmp_path)
    assert prepared.lms == "canvas"
    assert set(prepared.students) == {"55501", "55502"}
    assert prepared.students["55501"].name == "doejane"
    assert prepared.marked_late == {"55502"}
    assert {s.submitted_at for s in prepared.students.values()} == {""}, "Canvas writes the zip's own time"
    assert (prepared.folder / "55502" / "quiz-1.ipynb").read_bytes() == BLANK


def test_brightspace_times_come_from_the_name_and_the_newest_attempt_before_the_deadline_counts(tmp_path):
    download = brightspace_zip(
        tmp_path / "brightspace.zip",
        [
            ("Jane Doe", datetime(2026, 11, 29, 9, 5), {"quiz.ipynb": BLANK}),
            ("Jane Doe", datetime(2026, 12, 1, 12, 5), {"quiz.ipynb": SOLUTION}),
            ("Jane Doe", LATE, {"quiz.ipynb": BLANK}),
            ("Ole Hansen", LATE, {"quiz.ipynb": SOLUTION}),
            ("Ole Hansen", datetime(2026, 12, 3, 16, 45), {"quiz.ipynb": BLANK}),
        ],
    )
    strict = unpack(download, tmp_path, LatePolicy(deadline=DEADLINE, allow_late=False))
    assert strict.lms == "brightspace"
    assert set(strict.students) == {"jane-doe", "ole-hansen"}
    assert strict.students["jane-doe"].name == "Jane Doe"
    assert strict.students["jane-doe"].submitted_at == "2026-12-01T12:05:00+01:00"
    assert (strict.folder / "jane-doe" / "quiz.ipynb").read_bytes() == SOLUTION
    assert strict.students["ole-hansen"].submitted_at == "2026-12-03T16:45:00+01:00", "only late: newest late"
    assert "2 other attempt(s) not graded" in strict.notes["jane-doe"][0]
    assert "index.html" not in files_under(strict.folder)

    lenient = unpack(download, tmp_path, LatePolicy(deadline=DEADLINE, allow_late=True))
    assert lenient.students["jane-doe"].submitted_at == "2026-12-02T09:05:00+01:00"
    assert (lenient.folder / "jane-doe" / "quiz.ipynb").read_bytes() == BLANK


def test_a_students_own_zip_is_unpacked_and_a_zip_of_per_student_zips_is_read(tmp_path):
    moodle = moodle_zip(
        tmp_path / "moodle.zip",
        [("Jane Doe", "1001", ON_TIME, {"handin.zip": zip_bytes({"work/quiz.ipynb": SOLUTION})})],
    )
    prepared = unpack(moodle, tmp_path)
    assert files_under(prepared.folder / "1001") == ["quiz.ipynb"]
    assert (prepared.folder / "1001" / "quiz.ipynb").read_bytes() == SOLUTION

    per_student = write_zip(
        tmp_path / "class.zip",
        [
            ("s230001.zip", zip_bytes({"quiz.ipynb": SOLUTION}), ON_TIME),
            ("s230002.zip", zip_bytes({"quiz.ipynb": BLANK}), ON_TIME),
        ],
    )
    prepared = unpack(per_student, tmp_path)
    assert set(prepared.students) == {"s230001", "s230002"}
    assert (prepared.folder / "s230002" / "quiz.ipynb").read_bytes() == BLANK


def test_several_downloads_in_one_zip_are_merged(tmp_path):
    first = canvas_zip(tmp_path / "a.zip", [("doejane", "1", False, {"quiz.ipynb": SOLUTION})])
    second = canvas_zip(tmp_path / "b.zip", [("hansenole", "2", True, {"quiz.ipynb": BLANK})])
    both = write_zip(
        tmp_path / "both.zip",
        [("part1.zip", first.read_bytes(), ON_TIME), ("part2.zip", second.read_bytes(), ON_TIME)],
    )
    prepared = unpack(both, tmp_path)
    assert prepared.lms == "canvas" and set(prepared.students) == {"1", "2"}


@pytest.mark.parametrize(
    "entry, message",
    [
        ("../evil.ipynb", "points outside its folder"),
        ("Jane Doe_1_assignsubmission_file_/../../evil.ipynb", "points outside its folder"),
        ("/tmp/evil.ipynb", "absolute path"),
        ("C:/evil.ipynb", "absolute path"),
    ],
)
def test_entries_that_would_escape_the_target_are_refused_and_nothing_is_written(tmp_path, entry, message):
    download = write_zip(
        tmp_path / "evil.zip",
        [("Jane Doe_1_assignsubmission_file_/quiz.ipynb", SOLUTION, ON_TIME), (entry, b"x", ON_TIME)],
    )
    before = files_under(tmp_path)
    with pytest.raises(CourseError, match=message):
        unpack(download, tmp_path)
    assert files_under(tmp_path) == before


def test_symlinks_too_many_files_too_many_bytes_and_deep_nesting_are_refused(tmp_path):
    link = symlink_zip(tmp_path / "link.zip", "Jane Doe_1_assignsubmission_file_/quiz.ipynb", "/etc/passwd")
    many = moodle_zip(
        tmp_path / "many.zip", [(f"S {n}", str(n), ON_TIME, {"quiz.ipynb": b"{}"}) for n in range(5)]
    )
    big = moodle_zip(tmp_path / "big.zip", [("Jane Doe", "1", ON_TIME, {"quiz.ipynb": b"0" * 100_000})])
    deep = write_zip(
        tmp_path / "deep.zip",
        [
            (
                "s1.zip",
                zip_bytes({"a.zip": zip_bytes({"b.zip": zip_bytes({"quiz.ipynb": SOLUTION})})}),
                ON_TIME,
            )
        ],
    )
    before = files_under(tmp_path)
    with pytest.raises(CourseError, match="symbolic link"):
        unpack(link, tmp_path)
    with pytest.raises(CourseError, match="more than 8 files"):
        unpack(many, tmp_path, limits=UnzipLimits(max_files=8))
    with pytest.raises(CourseError, match="more than 50,000 bytes"):
        unpack(big, tmp_path, limits=UnzipLimits(max_bytes=50_000))
    assert files_under(tmp_path) == before
    prepared = unpack(deep, tmp_path, limits=UnzipLimits(max_depth=2))
    assert "nested more than 2 deep" in prepared.notes["s1"][0], "a student's bad zip costs only them"


def test_a_zip_in_no_known_layout_or_not_a_zip_is_one_clear_error(tmp_path):
    loose = write_zip(tmp_path / "loose.zip", [("quiz.ipynb", SOLUTION, ON_TIME)])
    with pytest.raises(CourseError, match="not in a layout we know .* it holds quiz.ipynb"):
        unpack(loose, tmp_path)
    text = tmp_path / "grades.txt"
    text.write_text("no zip")
    with pytest.raises(CourseError, match="neither a folder of submissions nor a .zip"):
        unpack(text, tmp_path)


def test_nbgrader_submitted_tree_and_a_course_root_holding_it(tmp_path):
    course = tmp_path / "course"
    submitted = nbgrader_submitted(
        course,
        {
            "alice": ("2026-12-01 22:30:00.123456 UTC", SOLUTION),
            "bob": ("2026-12-02 08:00:00.000000 UTC", BLANK),
        },
    )
    for source in (submitted, course):
        prepared = unpack(source, tmp_path)
        assert prepared.lms == "nbgrader"
        assert prepared.students["alice"].submitted_at == "2026-12-01T22:30:00.123456+00:00"
        assert files_under(prepared.folder / "alice") == ["quiz.ipynb"], "timestamp.txt is not a hand-in"
        assert (prepared.folder / "bob" / "quiz.ipynb").read_bytes() == BLANK


def test_a_plain_folder_is_graded_where_it_is(tmp_path):
    plain = tmp_path / "class"
    (plain / "s1").mkdir(parents=True)
    (plain / "s1" / "quiz.ipynb").write_bytes(SOLUTION)
    prepared = prepare_submissions(plain, tmp_path / "unused", "quiz", tmp_path)
    assert prepared.folder == plain and prepared.lms == "" and prepared.summary() == ""
    assert not (tmp_path / "unused").exists(), "nothing is copied"


def test_deadlines_and_penalties_come_from_nbgrader_config(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.Autograder.deadlines = {'quiz': '2026-12-01 23:59 Europe/Copenhagen'}\n"
        "c.Autograder.allow_late = False\n"
        "c.Autograder.late_penalty_per_day = 0.1\n"
    )
    policy = load_policy(tmp_path, "quiz")
    assert policy.deadline == DEADLINE and not policy.allow_late and policy.per_day == 0.1
    assert load_policy(tmp_path, "essay").deadline is None
    assert parse_deadline("2026-12-01T23:59+01:00") == DEADLINE
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.Autograder.deadlines = {'quiz': 'next Friday'}\n"
    )
    with pytest.raises(CourseError, match="cannot read 'next Friday' as a deadline"):
        load_policy(tmp_path, "quiz")
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.Autograder.deadlines = {'quiz': '2026-12-01 23:59 Mars/Olympus'}\n"
    )
    with pytest.raises(CourseError, match="unknown time zone 'Mars/Olympus'"):
        load_policy(tmp_path, "quiz")


def test_the_penalty_is_per_started_day_or_zero_and_re_applying_replaces_it():
    def grade():
        return NotebookGrade("s1", "quiz", "quiz.ipynb", "graded", 7.0, [PartResult("a", 7.0, 7.0)])

    per_day = LatePolicy(deadline=DEADLINE, per_day=0.1)
    late = apply_late(grade(), "2026-12-03T08:00:00+01:00", per_day)  # 1 d 8 h late: two started days
    assert late.late_seconds == pytest.approx(32 * 3600 + 60)
    assert late.penalty == pytest.approx(1.4) and late.score == pytest.approx(5.6)
    assert late.late_note == (
        "handed in 1 d 8 h 1 min after the deadline of 2026-12-01 23:59+01:00: 1.4 points off "
        "(10% of the max score per started day)"
    )
    assert late.repairs == [] and late.is_late, "a penalty is not a repair"
    apply_late(late, "2026-11-30T08:00:00+01:00", per_day)
    assert (late.penalty, late.late_seconds, late.late_note, late.is_late) == (0.0, 0.0, "", False)
    zero = apply_late(grade(), "", LatePolicy(penalty_method="zero"), marked_late=True)
    assert zero.score == 0 and "late (the LMS says so)" in zero.late_note
    assert zero.is_late and zero.late_seconds == 0, "Canvas's LATE mark: late, with no time known"
    page = render_report("quiz", [zero])
    assert "graded, late" in page.split("Needs a human look (1)")[1], "and the report shows it as late"


def test_an_old_gradebook_without_late_columns_opens_and_keeps_its_grades(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE grades (assignment VARCHAR(255), student_id VARCHAR(255), notebook VARCHAR(255),"
            " status VARCHAR(64) NOT NULL, score FLOAT NOT NULL, max_score FLOAT NOT NULL, message TEXT NOT NULL,"
            " repairs TEXT NOT NULL, digest VARCHAR(64) NOT NULL, seconds FLOAT NOT NULL,"
            " graded_at DATETIME NOT NULL, PRIMARY KEY (assignment, student_id, notebook))"
        )
        db.execute(
            "INSERT INTO grades VALUES ('quiz', 's1', 'quiz.ipynb', 'graded', 7, 7, '',"
            " '[\"late: handed in 2 h after the deadline\"]', 'd', 1,"
            " '2026-01-01 00:00:00')"
        )
    gradebook = Gradebook(sqlite_url(path))
    old = gradebook.get("quiz", "s1", "quiz.ipynb")
    assert (old.status, old.submitted_at, old.penalty) == ("graded", "", 0.0)
    assert (old.late_note, old.repairs) == ("handed in 2 h after the deadline", []), (
        "a penalty is not a repair"
    )
    new = NotebookGrade("s2", "quiz", "quiz.ipynb", "graded", 7.0, [PartResult("a", 7.0, 7.0)])
    new.submitted_at, new.late_seconds, new.penalty = "2026-12-02T09:05:00+01:00", 33960.0, 0.7
    gradebook.put(new)
    again = gradebook.get("quiz", "s2", "quiz.ipynb")
    gradebook.close()
    assert (again.submitted_at, again.late_seconds, again.penalty, again.score) == (
        new.submitted_at,
        33960.0,
        0.7,
        pytest.approx(6.3),
    )


@pytest.fixture
def late_course(tmp_path):
    """The made-up quiz in a course whose nbgrader_config.py sets a deadline and 10% a day."""
    course = tmp_path / "course"
    write_quiz_course(course)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.Autograder.deadlines = {'quiz': '2026-12-01 23:59 Europe/Copenhagen'}\n"
        "c.Autograder.late_penalty_per_day = 0.1\n"
    )
    return course


def test_grading_a_brightspace_zip_end_to_end_charges_the_late_hand_in(late_course, tmp_path):
    download = brightspace_zip(
        tmp_path / "Quiz Download.zip",
        [
            ("Jane Doe", datetime(2026, 12, 3, 8, 0), {"quiz.ipynb": SOLUTION}),  # two started days late
            ("Ole Hansen", ON_TIME, {"quiz.ipynb": b'{"cells": ['}),
        ],
    )
    out = tmp_path / "grades"
    command = [
        "grade",
        "quiz",
        str(download),
        "--out",
        str(out),
        "--workers",
        "1",
        "--course",
        str(late_course),
    ]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert "Brightspace submissions detected: 2 students" in result.output
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert (rows["jane-doe"]["score"], rows["jane-doe"]["status"]) == (
        "5.2",
        "graded",
    )  # 7 of 9 less 2 started days x 10 % of 9
    assert (rows["ole-hansen"]["score"], rows["ole-hansen"]["status"]) == ("0", "invalid-notebook")
    jane_row = {key: rows["jane-doe"][key] for key in ("name", "raw_score", "late_hours", "penalty")}
    assert jane_row == {"name": "Jane Doe", "raw_score": "7", "late_hours": "32.02", "penalty": "1.8"}
    assert "jane-doe (Jane Doe)" in result.output, "progress lines name the student"
    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    jane = gradebook.get("quiz", "jane-doe", "quiz.ipynb")
    gradebook.close()
    assert (jane.raw_score, jane.penalty, jane.submitted_at) == (
        7.0,
        pytest.approx(1.8),
        "2026-12-03T08:00:00+01:00",
    )
    feedback = (out / "feedback" / "jane-doe" / "quiz.html").read_text()
    assert "after the deadline" in feedback and "1.8 points off" in feedback
    needs_a_look = (out / "report.html").read_text().split("Needs a human look")[1].split("Every notebook")[0]
    assert "jane-doe<br><small>Jane Doe</small>" in needs_a_look
    assert zipfile.ZipFile(download).testzip() is None, "the download is left whole"
