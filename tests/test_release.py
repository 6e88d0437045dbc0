"""Does the release hide solutions and hidden tests, and is assignments/ in step with its sources?

The release is tried on the made-up quiz of tests/synthetic.py; only the first test is about the course."""

import nbformat
import pytest
from click.testing import CliRunner
from synthetic import quiz_source

from autograder.authoring.release import release, release_notebook, stale_releases
from autograder.cli import cli
from autograder.core.course import Course


def test_released_notebooks_are_up_to_date(course):
    """The course's own assignments/ is in step with its sources: a check of the course, on purpose."""
    assert stale_releases(course) == []


def test_release_removes_solutions_hidden_tests_and_outputs():
    source = quiz_source()
    source.cells[1].outputs = [nbformat.v4.new_output("stream", text="left by the teacher's run\n")]
    released = release_notebook(source)
    text = "".join(cell.source for cell in released.cells)
    assert "BEGIN SOLUTION" not in text and "math.sqrt(sum(x * x for x in v))" not in text
    assert "HIDDEN TESTS" not in text and "double of 21" not in text
    stubs = [c for c in released.cells if "raise NotImplementedError()" in c.source and c.cell_type == "code"]
    assert len(stubs) == 3
    assert "def length(v):" in text, "signatures stay for the student"
    assert all(not cell.get("outputs") for cell in released.cells if cell.cell_type == "code")
    assert "BEGIN SOLUTION" in "".join(c.source for c in source.cells), "the source is not modified"


def test_check_reports_a_stale_release_and_release_repairs_it(tmp_path):
    copy = Course(tmp_path)
    (copy.source_root / "quiz").mkdir(parents=True)
    nb = quiz_source()
    nbformat.write(nb, copy.source_root / "quiz" / "quiz.ipynb")
    (copy.source_root / "quiz" / "data.csv").write_text("x\n1\n")

    runner = CliRunner()
    stale = runner.invoke(cli, ["release", "--check", "--course", str(tmp_path)])
    assert stale.exit_code == 1
    assert "assignments/quiz/quiz.ipynb is missing" in stale.output

    release(copy)
    assert (copy.release_root / "quiz" / "data.csv").read_text() == "x\n1\n"
    fresh = runner.invoke(cli, ["release", "--check", "--course", str(tmp_path)])
    assert fresh.exit_code == 0, fresh.output

    nb.cells[0].source += "\nOne more line."
    nbformat.write(nb, copy.source_root / "quiz" / "quiz.ipynb")
    edited = runner.invoke(cli, ["release", "--check", "--course", str(tmp_path)])
    assert edited.exit_code == 1
    assert "quiz.ipynb differs from its source" in edited.output


@pytest.mark.parametrize("fault", ["duplicated", "missing", "a list", "autotest"])
def test_a_faulty_grade_id_is_one_line_naming_the_file(tmp_path, fault):
    root = tmp_path / "course"
    path = root / "source_notebooks" / "quiz" / "quiz.ipynb"
    path.parent.mkdir(parents=True)
    notebook = quiz_source()
    tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    if fault == "duplicated":
        tests[1].metadata.nbgrader.grade_id = tests[0].metadata.nbgrader.grade_id
    elif fault == "a list":
        tests[1].metadata.nbgrader.grade_id = ["test", "square"]
    elif fault == "autotest":  # nbgrader 0.9's templates: left unexpanded, a blank notebook would pass
        tests[1].source = "### AUTOTEST square(0.0)\n" + tests[1].source
    else:
        del tests[1].metadata.nbgrader["grade_id"]
    nbformat.write(notebook, path)
    for command in (["release", "quiz"], ["grade", "quiz", str(tmp_path), "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(cli, [*command, "--course", str(root)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "source_notebooks/quiz/quiz.ipynb: cell" in result.output, result.output
        said = {"duplicated": "share the grade_id", "autotest": "uses nbgrader's ### AUTOTEST directive"}
        assert said.get(fault, "without a grade_id") in result.output
