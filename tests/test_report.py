"""Does the teacher's report show the class's scores, every test cell, the runtimes and what needs a look?

The grades are made up (parts named after the quiz of tests/synthetic.py); no course assignment is read."""

import base64
import re
import subprocess
import sys

from conftest import REPO

from autograder.core.model import NotebookGrade, PartResult
from autograder.outputs.report import render_report


def make_grade(student_id, points, status="graded", seconds=3.0, **fields):
    maxima = {"test_double": 2.0, "test_square": 3.0, "test_length": 2.0}
    parts = [PartResult(name, got, top) for (name, top), got in zip(maxima.items(), points, strict=True)]
    return NotebookGrade(student_id, "quiz", "quiz.ipynb", status, 7.0, parts, seconds=seconds, **fields)


GRADES = [
    make_grade("s1", [2, 3, 2], seconds=2.0),
    make_grade(
        "s2", [2, 3, 2], seconds=4.0, late_seconds=3600, penalty=2.0, late_note="1 h late: 2 points off"
    ),
    make_grade("s3", [2, 0, 0], seconds=9.5),
    make_grade("s4", [0, 0, 0], "missing", seconds=0.0, message="no notebook handed in"),
]


def test_the_histogram_is_an_inline_png_with_alt_text_that_gives_the_counts():
    report = render_report("quiz", GRADES)
    [(alt, data)] = re.findall(r"<img alt='([^']*)' src='data:image/png;base64,([^']+)'>", report)
    assert (
        alt
        == "Histogram of the 4 students&#x27; scores out of 7: 1 scored 0, 1 scored 2, 1 scored 5, 1 scored 7."
    )
    assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_report_loads_nothing_from_the_network():
    report = render_report("quiz", GRADES)
    assert not re.search(r"https?:|(src|href)=['\"]//", report)
    assert "default-src 'none'" in report  # and the page says so to the browser
    assert not re.search(r"<(script|link)\b", report)


def test_every_test_cell_is_listed_with_its_pass_rate_and_points():
    report = render_report("quiz", GRADES)
    hardest = report.split("Parts, hardest first")[1].split("Needs a human look")[0]
    assert "<td>test_length</td><td>2 of 4 (50%)</td><td>2</td>" in hardest
    assert "<td>test_square</td><td>2 of 4 (50%)</td><td>3</td>" in hardest
    assert "<td>test_double</td><td>3 of 4 (75%)</td><td>2</td>" in hardest
    assert hardest.index("test_length") < hardest.index("test_double<")


def test_runtime_summary_counts_only_notebooks_that_ran():
    report = render_report("quiz", GRADES)
    assert "Runtime per notebook: median 4.0 s, longest 9.5 s (s3), 16 s in all." in report


def test_late_hand_ins_errors_and_repairs_need_a_human_look():
    repaired = make_grade("s5", [2, 3, 2], repairs=["answer double had lost its nbgrader id"])
    report = render_report("quiz", [*GRADES, repaired])
    look = report.split("Needs a human look (3)")[1].split("Every notebook")[0]
    assert "<td>s2</td>" in look and "5 / 7 (7 before the late penalty)" in look and "graded, late" in look
    assert "<td>s4</td>" in look and "no notebook handed in" in look
    assert "<td>s5</td>" in look and "had lost its nbgrader id" in look
    assert "<td>s1</td>" not in look and "<td>s3</td>" not in look


def test_a_report_with_no_grades_still_renders():
    report = render_report("quiz", [])
    assert "Needs a human look (0)" in report and "<img" not in report


def test_importing_the_tool_does_not_load_matplotlib():
    code = "import sys, autograder.cli; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip() == "False", result.stderr
