"""Does `autograder grade` give every student the right score, a row, and feedback, without stopping?"""

import csv
import hashlib
import html
import shutil
import socket
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest
from click.testing import CliRunner
from conftest import REPO

from autograder.cli import cli
from autograder.core.config import GradingSettings
from autograder.grade import grade_assignment
from autograder.outputs.gradebook import Gradebook, sqlite_url

DEMO = REPO / "demo" / "warmup"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Grade the demo class once through the command line, as `make demo` does."""
    out = tmp_path_factory.mktemp("demo-grades")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in DEMO.rglob("*.ipynb")}
    result = CliRunner().invoke(cli, ["grade", "warmup", str(DEMO), "--out", str(out), "--course", str(REPO)])
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in DEMO.rglob("*.ipynb")}
    return result, out, before, after


def test_every_demo_student_gets_the_expected_grade(demo_run):
    result, out, _, _ = demo_run
    assert result.exit_code == 0, result.output
    assert read_csv(out / "grades.csv") == read_csv(DEMO / "expected_grades.csv")
    with open(out / "grades.csv", encoding="utf-8") as handle:
        header = "student_id,assignment,score,max_score,status,name,lms_id,raw_score,late_hours,penalty"
        assert handle.readline().strip() == f"{header},needs_manual_grade"


def test_the_demo_tas_scores_reach_grades_csv_and_the_feedback_pages(demo_run, tmp_path):
    """`make demo`'s second step: a TA's scores of the written part 4, graded elsewhere, come in from a file."""
    _, graded, _, _ = demo_run
    out = tmp_path / "reviewed"
    shutil.copytree(graded, out)
    scores = DEMO / "ta_scores.csv"
    result = CliRunner().invoke(
        cli, ["review", "warmup", "--out", str(out), "--import", str(scores), "--course", str(REPO)]
    )
    assert result.exit_code == 0, result.output
    assert "stored 4 TA scores" in result.output
    assert read_csv(out / "grades.csv") == read_csv(DEMO / "expected_grades_reviewed.csv")
    page = (out / "feedback" / "s230002" / "warmup.html").read_text()
    assert "say why a non-linearity matters" in page and "Score: 2.5 / 9" in page
    questions = {(r["student_id"], r["question"]): r["points"] for r in read_csv(out / "questions.csv")}
    assert questions["s230003", "why_relu"] == "1" and questions["s230003", "test_relu"] == "2"


def test_each_student_gets_a_feedback_page_that_says_what_to_fix(demo_run):
    _, out, _, _ = demo_run
    pages = {p.parent.name: p.read_text() for p in (out / "feedback").glob("*/warmup.html")}
    assert set(pages) == {row["student_id"] for row in read_csv(DEMO / "expected_grades.csv")}
    assert "Score: 2 / 9" in pages["s230002"]
    assert "relu&#x27;(0) should be 0.0" in pages["s230002"]
    assert "ValueError: I will do this one later" in pages["s230003"]
    assert "had lost its nbgrader id" in pages["s230004"]
    assert "not answered yet" in pages["s230005"]
    assert "graded &#x27;warmup (1).ipynb&#x27; as warmup.ipynb" in pages["s230006"]
    assert "Traceback" not in "".join(pages.values())
    # Parts are named as the notebook names them, its math drawn without a script, on a phone too.
    assert "<td>Part 2: the derivative of ReLU</td>" in pages["s230002"]
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"' in pages["s230002"]
    assert "name='viewport'" in pages["s230002"] and "<script" not in pages["s230002"]


def test_the_report_ranks_parts_and_lists_what_needs_a_look(demo_run):
    _, out, _, _ = demo_run
    report = (out / "report.html").read_text()
    hardest = report.split("Parts, hardest first")[1].split("Needs a human look")[0]
    assert hardest.index("test_relu_derivative") < hardest.index("test_relu<"), "least passed first"
    assert "2 of 6 (33%)" in hardest
    needs_a_look = report.split("Needs a human look (2)")[1].split("Every notebook")[0]
    assert "s230004" in needs_a_look and "s230006" in needs_a_look and "s230001" not in needs_a_look


def test_grading_never_modifies_a_hand_in(demo_run):
    _, _, before, after = demo_run
    assert before == after


def test_the_gradebook_holds_every_grade_with_its_parts(demo_run):
    _, out, _, _ = demo_run
    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    grade = gradebook.get("warmup", "s230002", "warmup.ipynb")
    gradebook.close()
    assert [(p.grade_id, p.points) for p in grade.parts] == [
        ("test_relu", 2.0),
        ("test_relu_derivative", 0.0),
        ("test_dense_relu", 0.0),
        ("why_relu", 0.0),  # the written part 4, waiting for a TA
    ]
    assert grade.score == 2.0 and grade.max_score == 9.0 and grade.pending_manual[0].grade_id == "why_relu"


def test_source_gets_full_marks_and_blank_release_gets_zero_in_one_batch(course, make_class, tmp_path):
    submissions = make_class(
        {
            "teacher": course.source_root / "warmup" / "warmup.ipynb",
            "blank": course.release_root / "warmup" / "warmup.ipynb",
            "broken": b'{"cells": [',
        }
    )
    grades = grade_assignment(course, "warmup", submissions, tmp_path / "out")
    by_student = {g.student_id: g for g in grades}
    assert (by_student["teacher"].score, by_student["teacher"].status) == (7.0, "graded")
    assert (by_student["blank"].score, by_student["blank"].status) == (0.0, "graded")
    assert by_student["broken"].status == "invalid-notebook"
    assert "not valid notebook JSON" in by_student["broken"].message


def test_an_endless_loop_times_out_and_the_other_parts_still_count(course, make_class, tmp_path):
    notebook = nbformat.read(course.source_root / "warmup" / "warmup.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.metadata["nbgrader"]["grade_id"] == "relu_derivative":
            cell.source = "def relu_derivative(x):\n    while True:\n        pass"
    submissions = make_class({"looper": notebook})
    settings = GradingSettings(cell_timeout=3)
    [grade] = grade_assignment(course, "warmup", submissions, tmp_path / "out", settings=settings)
    assert grade.status == "timeout"
    assert grade.score == 5.0
    lost = next(p for p in grade.parts if p.grade_id == "test_relu_derivative")
    assert "time limit" in lost.message


def test_an_unchanged_submission_reuses_its_grade_unless_regrade(course, make_class, tmp_path):
    submissions = make_class({"teacher": course.source_root / "warmup" / "warmup.ipynb"})
    out = tmp_path / "out"
    seen = []
    report = lambda grade, reused: seen.append(reused)  # noqa: E731
    grade_assignment(course, "warmup", submissions, out, report=report)
    grade_assignment(course, "warmup", submissions, out, report=report)
    grade_assignment(
        course, "warmup", submissions, out, settings=GradingSettings(regrade=True), report=report
    )
    assert seen == [False, True, False]
    assert read_csv(out / "grades.csv")[0]["score"] == "7"


@pytest.mark.parametrize(
    "args, message",
    [
        (["grade", "nope", "demo/warmup", "--out", "x"], "unknown assignment 'nope'"),
        (["grade", "warmup", "no/such/folder", "--out", "x"], "does not exist"),
        (["release", "nope"], "unknown assignment 'nope'"),
        (["grade", "warmup", "demo/warmup", "--out", "x", "--cell-timeout", "2.5"], "not a valid integer"),
    ],
)
def test_usage_errors_exit_non_zero_with_one_line(args, message):
    result = CliRunner().invoke(cli, [*args, "--course", str(REPO)])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_every_command_has_help_with_an_example():
    for name, command in cli.commands.items():
        assert "Example:" in (command.help or ""), f"`autograder {name} --help` has no example"


@pytest.mark.slow
def test_bad_files_get_a_clear_status_and_are_left_as_they_were(course, make_class, tmp_path):
    solution = nbformat.read(course.source_root / "warmup" / "warmup.ipynb", as_version=4)
    huge = nbformat.read(course.source_root / "warmup" / "warmup.ipynb", as_version=4)
    huge.cells[1].outputs = [nbformat.v4.new_output("stream", text="x" * 50_000_000)]
    submissions = make_class(
        {
            "nbformat-3": nbformat.writes(nbformat.convert(solution, 3), version=3).encode(),
            "python-file": b"def relu(x):\n    return x\n",
            "pdf-file": b"%PDF-1.4\n\xe2\xe3\xcf\xd3\n1 0 obj\n",
            "empty-file": b"",
            "latin-1": "{'cells': 'é'}".encode("latin-1"),
            "huge-outputs": huge,
            "odd name é ü": solution,
        }
    )
    (submissions / "two-files").mkdir()
    nbformat.write(solution, submissions / "two-files" / "copy 1.ipynb")
    nbformat.write(solution, submissions / "two-files" / "copy 2.ipynb")
    (submissions / "wrong-format").mkdir()
    (submissions / "wrong-format" / "warmup.pdf").write_bytes(b"%PDF-1.4")
    before = {p: p.read_bytes() for p in submissions.rglob("*") if p.is_file()}

    grades = {g.student_id: g for g in grade_assignment(course, "warmup", submissions, tmp_path / "o")}

    assert {s: (g.status, g.score) for s, g in grades.items()} == {
        "nbformat-3": ("graded", 7.0),
        "python-file": ("invalid-notebook", 0.0),
        "pdf-file": ("invalid-notebook", 0.0),
        "empty-file": ("invalid-notebook", 0.0),
        "latin-1": ("invalid-notebook", 0.0),
        "huge-outputs": ("graded", 7.0),
        "odd name é ü": ("graded", 7.0),
        "two-files": ("ambiguous", 0.0),
        "wrong-format": ("missing", 0.0),
    }
    assert "not valid notebook JSON" in grades["python-file"].message
    assert "not UTF-8" in grades["pdf-file"].message
    assert "empty" in grades["empty-file"].message
    assert "copy 1.ipynb, copy 2.ipynb" in grades["two-files"].message
    assert "found: warmup.pdf" in grades["wrong-format"].message
    assert before == {p: p.read_bytes() for p in submissions.rglob("*") if p.is_file()}
    rows = read_csv(tmp_path / "o" / "grades.csv")
    assert len(rows) == len(grades), "every student has a row in grades.csv"
    report = (tmp_path / "o" / "report.html").read_text()
    needs_a_look = report.split("Needs a human look")[1].split("Every notebook")[0]
    for student in ("python-file", "pdf-file", "empty-file", "latin-1", "two-files", "wrong-format"):
        assert html.escape(grades[student].message) in needs_a_look, student


@pytest.mark.slow
def test_a_killed_run_loses_no_grade_and_the_next_run_grades_each_once(course, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade", "warmup", str(DEMO), "--out", str(out)]
    run = subprocess.Popen([*command, "--course", str(REPO)], stdout=subprocess.DEVNULL)
    database = out / "gradebook.sqlite"
    deadline = time.monotonic() + 120
    graded_before_kill = 0
    while time.monotonic() < deadline and graded_before_kill < 2:
        time.sleep(0.2)
        if database.exists():
            with sqlite3.connect(database) as db:
                try:
                    graded_before_kill = db.execute("select count(*) from grades").fetchone()[0]
                except sqlite3.OperationalError:  # the file is there, its tables not yet
                    continue
    run.kill()
    run.wait()
    assert 2 <= graded_before_kill < 6, "the run was killed mid-batch"

    reused = []
    grade_assignment(course, "warmup", DEMO, out, report=lambda grade, was_reused: reused.append(was_reused))
    assert sum(reused) >= graded_before_kill, "every grade finished before the kill is kept"
    assert len(reused) == 6
    assert read_csv(out / "grades.csv") == read_csv(DEMO / "expected_grades.csv")


@pytest.mark.slow
def test_three_gradings_of_a_class_agree_part_by_part(course, demo_run, tmp_path):
    _, out, _, _ = demo_run

    def parts(grades):
        return {g.student_id: (g.status, [(p.grade_id, p.points) for p in g.parts]) for g in grades}

    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    first = parts(
        gradebook.get("warmup", s, "warmup.ipynb")
        for s in sorted(p.name for p in DEMO.iterdir() if p.is_dir())
    )
    gradebook.close()
    again = [
        parts(
            grade_assignment(
                course, "warmup", DEMO, tmp_path / str(n), settings=GradingSettings(regrade=True)
            )
        )
        for n in range(2)
    ]
    assert again == [first, first]


@pytest.mark.slow
def test_grading_on_dask_workers_gives_the_same_grades(course, make_class, tmp_path):
    hand_ins = {f"{p.parent.name}-{n}": p for n in range(2) for p in DEMO.glob("s23000[1-5]/warmup.ipynb")}
    settings = GradingSettings(workers=2)
    grades = grade_assignment(course, "warmup", make_class(hand_ins), tmp_path / "o", settings=settings)
    expected = {row["student_id"]: float(row["score"]) for row in read_csv(DEMO / "expected_grades.csv")}
    assert len(grades) == len(hand_ins) == 10
    assert {g.student_id: g.score for g in grades} == {s: expected[s.split("-")[0]] for s in hand_ins}


@pytest.fixture
def dask_cluster():
    """A real `dask scheduler` and `dask worker` on loopback, as on a teacher's server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(REPO / ".venv" / "bin" / "dask") if (REPO / ".venv" / "bin" / "dask").exists() else "dask"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
    )
    worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)
    yield address
    worker.kill()
    scheduler.kill()
    worker.wait()
    scheduler.wait()


@pytest.mark.slow
def test_grading_on_an_existing_dask_scheduler(course, tmp_path, dask_cluster):
    settings = GradingSettings(scheduler=dask_cluster)
    grades = grade_assignment(course, "warmup", DEMO, tmp_path / "o", settings=settings)
    assert read_csv(tmp_path / "o" / "grades.csv") == read_csv(DEMO / "expected_grades.csv")
    assert len(grades) == 6


def test_a_notebook_the_grader_fails_on_is_one_row_and_the_batch_goes_on(
    course, make_class, monkeypatch, tmp_path
):
    """The failure boundary: whatever breaks while one notebook is graded or stored stays its own row."""
    from autograder import grade as grading

    hand_ins = {p.parent.name: p for p in DEMO.glob("s23000[1-4]/warmup.ipynb")}
    match_answers, write_feedback = grading.match_answers, grading.write_feedback

    def matcher_that_breaks_on(release, handed_in):
        if "break the matcher" in str(handed_in.metadata):
            raise RuntimeError("a fault of the grader")
        return match_answers(release, handed_in)

    def page_writer_that_breaks_on(path, grade, executed, *rest):
        if grade.student_id == "s230003" and executed is not None:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return write_feedback(path, grade, executed, *rest)

    monkeypatch.setattr(grading, "match_answers", matcher_that_breaks_on)
    monkeypatch.setattr(grading, "write_feedback", page_writer_that_breaks_on)
    submissions = make_class(hand_ins)
    broken = nbformat.read(submissions / "s230002" / "warmup.ipynb", as_version=4)
    broken.metadata["note"] = "break the matcher"
    nbformat.write(broken, submissions / "s230002" / "warmup.ipynb")

    grades = {g.student_id: g for g in grade_assignment(course, "warmup", submissions, tmp_path / "out")}
    assert {s: (g.status, g.score) for s, g in grades.items()} == {
        "s230001": ("graded", 7.0),
        "s230002": ("grading-failed", 0.0),
        "s230003": ("grading-failed", 0.0),
        "s230004": ("graded", 7.0),
    }
    assert "RuntimeError: a fault of the grader" in grades["s230002"].message
    assert "could not be written (UnicodeEncodeError" in grades["s230003"].message
    rows = {row["student_id"]: row["status"] for row in read_csv(tmp_path / "out" / "grades.csv")}
    assert rows == {s: g.status for s, g in grades.items()}
    assert (tmp_path / "out" / "feedback" / "s230003" / "warmup.html").is_file()

    monkeypatch.undo()  # a re-run grades the failed ones again: they were the grader's fault
    again = {
        g.student_id: g.status for g in grade_assignment(course, "warmup", submissions, tmp_path / "out")
    }
    assert again == dict.fromkeys(grades, "graded")
