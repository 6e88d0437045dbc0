"""Nothing a teacher does by accident costs a student's grade: interrupts, odd folders and zips,
one-student regrades, typos in the configuration, wrong databases. All through the command line.

The class is made up (tests/synthetic.py): six hand-ins of a 9-point quiz (7 autograded, 2 written) whose
scores are known, in a course that also holds a second assignment, so no test leans on the course's own."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic import ESSAY, write_quiz_class, write_quiz_course

from autograder.cli import cli
from autograder.core.course import Course
from autograder.grading import parallel


@dataclass
class Quiz:
    """A course with the quiz (and the essay beside it) and a class that handed the quiz in."""

    root: Path  # the course's root
    folder: Path  # the class's submissions, `<root>/demo/quiz/<student>/quiz.ipynb`
    expected: list[dict]  # the grades.csv rows grading it gives


@pytest.fixture(scope="module")
def quiz(tmp_path_factory) -> Quiz:
    root = tmp_path_factory.mktemp("course")
    course = write_quiz_course(root, others={"essay": ESSAY})
    folder = root / "demo" / "quiz"
    return Quiz(root, folder, write_quiz_class(course, folder))


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def autograder(*args: str, course: Path | None) -> tuple[int, str]:
    """Run the CLI in this process; its exit code and everything it printed."""
    result = CliRunner().invoke(cli, [*args, *(["--course", str(course)] if course else [])])
    return result.exit_code, result.output


def class_of(quiz: Quiz, count: int, folder: Path) -> tuple[Path, dict[str, str]]:
    """`count` students, copies of the quiz class's; returns the folder and each one's expected score."""
    rows = write_quiz_class(Course(quiz.root), folder, count=count)
    return folder, {row["student_id"]: row["score"] for row in rows}


def progress_of(student: str, printed: str) -> str:
    """The progress line of one student, from its id on."""
    (line,) = [line for line in printed.splitlines() if line.startswith("[") and f"] {student} " in line]
    return line.split("] ", 1)[1]


# --- Ctrl-C and SIGTERM --------------------------------------------------------------------------


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as in a teacher's terminal, also under CI


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2], ids=["sequential", "dask"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_stops_in_one_line_and_the_next_run_finishes_the_class(stop, workers, quiz, tmp_path):
    submissions, expected = class_of(quiz, 10, tmp_path / "class")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade", "quiz", str(submissions), "--out", str(out)]
    run = subprocess.Popen(
        [*command, "--workers", str(workers), "--course", str(quiz.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which a terminal's Ctrl-C goes to as a whole
        preexec_fn=_default_signals,
    )
    printed = []
    for line in run.stdout:
        printed.append(line)
        if line.startswith("[2/"):
            break
    os.killpg(run.pid, stop)  # Ctrl-C reaches every process of the group: Dask's workers too
    try:
        rest, errors = run.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)  # leave no grader, worker or kernel behind
        raise
    printed.append(rest)

    assert run.returncode == 128 + stop, "".join(printed) + errors
    assert "Traceback" not in "".join(printed) + errors
    (line,) = errors.strip().splitlines()
    assert line.startswith(f"interrupted ({signal.Signals(stop).name}):") and line.endswith(
        "run again to finish"
    )
    stored = {row["student_id"]: row for row in read_csv(out / "grades.csv")}
    assert 2 <= len(stored) < len(expected), "the grades finished before the stop are kept, no others"
    assert {s: (row["score"], row["status"]) for s, row in stored.items()} == {
        s: (expected[s], "graded") for s in stored
    }, "nobody is recorded as cut short (kernel-died) by the grader's own stop"

    again = subprocess.run(
        [*command, "--course", str(quiz.root)], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("(unchanged, grade reused)") == len(stored)
    assert {row["student_id"]: row["score"] for row in read_csv(out / "grades.csv")} == expected


# --- folders and zips ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_zip_of_the_class_folder_is_its_students_and_one_student_regrades_alone(quiz, tmp_path):
    demo, expected = quiz.folder, quiz.expected
    download = tmp_path / "class.zip"
    with zipfile.ZipFile(download, "w") as archive:  # what `zip -r class.zip quiz/` writes
        for path in sorted(demo.rglob("*")):
            archive.write(path, Path("quiz") / path.relative_to(demo))
    out = tmp_path / "out"
    code, printed = autograder("grade", "quiz", str(download), "--out", str(out), course=quiz.root)
    assert code == 0, printed
    assert read_csv(out / "grades.csv") == expected

    code, printed = autograder(
        "grade",
        "quiz",
        str(download),
        "--out",
        str(out),
        "--student",
        "s230003",
        "--regrade",
        course=quiz.root,
    )
    assert code == 0, printed
    assert "grading 1 notebooks" in printed and "s230001" not in printed
    assert read_csv(out / "grades.csv") == expected, "the rest of the class is kept"
    pages = zipfile.ZipFile(out / "feedback.zip").namelist()
    released = [row["student_id"] for row in expected if row["needs_manual_grade"] == "0"]
    assert sorted(pages) == [f"{student}/quiz.html" for student in released], "the rest wait for a TA"
    assert all(row["student_id"] in (out / "report.html").read_text() for row in expected)

    for output in ("grades.csv", "feedback.zip", "report.html"):
        (out / output).unlink()
    code, printed = autograder("export", "quiz", "--out", str(out), "--format", "canvas", course=None)
    assert code == 0, printed
    assert read_csv(out / "grades.csv") == expected
    # Canvas's file: its "Points Possible" row, then one per student.
    assert len(read_csv(out / "canvas.csv")) == 1 + 6 and (out / "report.html").is_file()

    code, printed = autograder(
        "grade", "quiz", str(download), "--out", str(out), "--student", "s23003", course=quiz.root
    )
    assert code == 1 and "no student 's23003'" in printed and "did you mean 's230003'?" in printed


@pytest.mark.slow
def test_an_ambiguous_hand_in_is_fixed_with_pick_and_stays_fixed(quiz, tmp_path):
    demo = quiz.folder
    submissions = tmp_path / "class"
    shutil.copytree(demo / "s230001", submissions / "s230001")
    (submissions / "s230009").mkdir()
    shutil.copy(demo / "s230002" / "quiz.ipynb", submissions / "s230009" / "draft.ipynb")
    shutil.copy(demo / "s230001" / "quiz.ipynb", submissions / "s230009" / "final.ipynb")
    out = tmp_path / "out"
    code, printed = autograder("grade", "quiz", str(submissions), "--out", str(out), course=quiz.root)
    assert code == 0 and progress_of("s230009", printed).split()[1:5] == ["0", "/", "9", "ambiguous"]
    assert "--pick 's230009=<file>'" in printed, "the teacher is told what to run next"
    page = (out / "feedback" / "s230009" / "quiz.html").read_text()
    assert "draft.ipynb, final.ipynb" in page and "--pick" not in page and "rename" not in page

    code, printed = autograder(
        "grade",
        "quiz",
        str(submissions),
        "--out",
        str(out),
        "--pick",
        "s230009=final.ipynb",
        course=quiz.root,
    )
    assert code == 0, printed
    rows = {row["student_id"]: row["score"] for row in read_csv(out / "grades.csv")}
    assert rows == {"s230001": "7", "s230009": "7"}
    page = (out / "feedback" / "s230009" / "quiz.html").read_text()
    assert "your teacher chose it among the notebooks you handed in" in page

    code, printed = autograder(
        "grade", "quiz", str(submissions), "--out", str(out), course=quiz.root
    )  # no --pick
    assert code == 0 and progress_of("s230009", printed).endswith(
        "7 / 9     graded (unchanged, grade reused)"
    )
    code, printed = autograder(
        "grade", "quiz", str(submissions), "--out", str(out), "--pick", "s230009=x.ipynb", course=quiz.root
    )
    assert code == 1 and "s230009 handed in draft.ipynb, final.ipynb" in printed


def test_folders_that_are_not_a_class_get_a_message_that_says_what_to_do(quiz, tmp_path):
    demo = quiz.folder
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(demo / "s230001" / "quiz.ipynb", flat / "s230001.ipynb")
    (tmp_path / "empty").mkdir()
    cases = {
        str(tmp_path / "empty"): "holds no student folders",
        str(flat): "holds notebooks (s230001.ipynb) but no student folders",
        str(demo.parent): f"grade that folder instead ({demo})",
        str(
            demo / "s230002"
        ): "looks like one student's folder: grade the class's folder with --student s230002",
    }
    for folder, message in cases.items():
        code, printed = autograder("grade", "quiz", folder, "--out", str(tmp_path / "out"), course=quiz.root)
        assert code == 1 and message in printed and "Traceback" not in printed, folder
    code, printed = autograder("grade", "quiz", str(demo), "--out", str(demo / "feedback"), course=quiz.root)
    assert code == 1 and "is inside the submissions folder" in printed
    assert not (demo / "feedback").exists()


def test_the_wrong_assignment_stops_and_names_the_likely_one(quiz, tmp_path):
    code, printed = autograder(
        "grade", "essay", str(quiz.folder), "--out", str(tmp_path / "out"), course=quiz.root
    )
    assert code == 1
    assert "6 of 6 hand-ins share almost none of the given cells of 'essay'" in printed
    assert "they look like 'quiz'" in printed
    assert not (tmp_path / "out" / "grades.csv").exists()


# --- configuration -------------------------------------------------------------------------------


@pytest.fixture
def course_with_config(quiz, tmp_path):
    """A course root holding the quiz course's assignments and a config the test writes."""
    course = tmp_path / "course"
    course.mkdir()
    for folder in ("source_notebooks", "assignments"):
        (course / folder).symlink_to(quiz.root / folder)

    def configured(text: str) -> Path:
        (course / "nbgrader_config.py").write_text("c = get_config()\n" + text)
        return course

    return configured


@pytest.mark.parametrize(
    "config, message",
    [
        (
            "c.Autograder.deadline = {'quiz': '2026-12-01 23:59 Europe/Copenhagen'}",
            "did you mean 'deadlines'?",
        ),
        (
            "c.Autograder.deadlines = {'qiuz': '2026-12-01 23:59 Europe/Copenhagen'}",
            "did you mean 'quiz'?",
        ),
        ("c.Autograder.late_penalty = 0.1", "did you mean 'late_penalty_per_day'?"),
    ],
)
def test_a_typo_in_the_configuration_is_an_error_naming_the_nearest_setting(
    course_with_config, quiz, config, message
):
    course = course_with_config(config)
    code, printed = autograder("grade", "quiz", str(quiz.folder), "--out", "unused", course=course)
    assert code == 1 and message in printed and "Traceback" not in printed


def test_the_deadline_and_penalty_in_force_are_said_at_the_start(course_with_config, quiz, tmp_path):
    course = course_with_config(
        "c.Autograder.deadlines = {'quiz': '2026-12-01 23:59 Europe/Copenhagen'}\n"
        "c.Autograder.late_penalty_per_day = 0.1\n"
    )
    # An unknown --student stops the run right after the start, before any kernel.
    code, printed = autograder(
        "grade", "quiz", str(quiz.folder), "--out", str(tmp_path / "o"), "--student", "x", course=course
    )
    assert "quiz: due 2026-12-01 23:59 CET; 10% of the max score off per started day late" in printed
    code, printed = autograder(
        "grade", "quiz", str(quiz.folder), "--out", str(tmp_path / "o"), "--student", "x", course=quiz.root
    )
    assert "quiz: no deadline set" in printed


# --- databases and schedulers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, message",
    [
        (
            "postgres://ta:s3cret@127.0.0.1:1/course",
            "write it as postgresql+psycopg://ta:***@127.0.0.1:1/course",
        ),
        (
            "mysql://ta:s3cret@127.0.0.1/course",
            "its database driver is not installed (MySQLdb); supported: SQLite",
        ),
        ("postgresql+psycopg://ta:s3cret@127.0.0.1:1/course", "Connection refused"),
        ("not a url", "Could not parse"),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line_without_its_password(url, message, quiz, tmp_path):
    code, printed = autograder(
        "grade", "quiz", str(quiz.folder), "--out", str(tmp_path), "--db", url, course=quiz.root
    )
    assert code == 1 and message in printed
    assert "s3cret" not in printed and "Traceback" not in printed
    assert len(printed.strip().splitlines()) <= 2  # the deadline line, then the error


def test_an_unreachable_scheduler_is_one_line(quiz, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "SCHEDULER_TIMEOUT", 1)
    code, printed = autograder(
        "grade",
        "quiz",
        str(quiz.folder),
        "--out",
        str(tmp_path),
        "--scheduler",
        "tcp://127.0.0.1:1",
        "--regrade",
        course=quiz.root,
    )
    assert code == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in printed
    assert "Traceback" not in printed


def test_a_course_sets_its_limits_in_nbgrader_config_and_flags_override_them(course_with_config):
    from autograder.core.settings import grading_settings
    from autograder.grading.sandbox import sandbox_prefix

    course = course_with_config(
        "c.Autograder.memory_bytes = 8 * 1024**3  # a CNN course\n"
        "c.Autograder.cell_timeout = 120\n"
        "c.Autograder.unzip_max_files = 500\n"
    )
    settings = grading_settings(course)
    assert (settings.limits.memory_bytes, settings.cell_timeout, settings.unzip_limits.max_files) == (
        8 * 1024**3,
        120,
        500,
    )
    assert str(8 * 1024**3) in " ".join(sandbox_prefix(course, settings.limits)), "the sandbox applies it"
    assert grading_settings(course, cell_timeout=5, workers=None).cell_timeout == 5, "a flag wins"
    code, printed = autograder("settings", course=course)
    assert code == 0 and "# c.Autograder.memory_bytes = 4294967296" in printed, "the defaults, to paste"


def test_a_setting_of_the_wrong_type_is_one_line(course_with_config, quiz, tmp_path):
    course = course_with_config("c.Autograder.cell_timeout = 'slow'\n")
    code, printed = autograder("grade", "quiz", str(quiz.folder), "--out", str(tmp_path / "o"), course=course)
    assert code == 1 and "a c.Autograder setting has the wrong type" in printed and "cell_timeout" in printed
    assert "Traceback" not in printed


def test_the_courses_folders_are_nbgraders_own_settings(quiz, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(quiz.root / "source_notebooks" / "quiz", course / "sources" / "quiz")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.source_directory = 'sources'\n"
        "c.CourseDirectory.release_directory = 'release'\n"
    )
    code, printed = autograder("release", "quiz", course=course)
    assert code == 0, printed
    assert (course / "release" / "quiz" / "quiz.ipynb").is_file()
    assert not (course / "assignments").exists()
