"""Does the release hide solutions and hidden tests, and is assignments/ in step with its sources?"""

import shutil

import nbformat
import pytest
from click.testing import CliRunner
from conftest import REPO

from autograder.authoring.release import release, release_notebook, stale_releases
from autograder.cli import cli
from autograder.core.course import Course


def test_released_notebooks_are_up_to_date(course):
    assert stale_releases(course) == []


def test_release_removes_solutions_hidden_tests_and_outputs(course):
    source = nbformat.read(course.source_root / "warmup" / "warmup.ipynb", as_version=4)
    released = release_notebook(source)
    text = "".join(cell.source for cell in released.cells)
    assert "BEGIN SOLUTION" not in text and "np.maximum(x, 0)" not in text
    assert "HIDDEN TESTS" not in text and "default_rng(0)" not in text
    stubs = [c for c in released.cells if "raise NotImplementedError()" in c.source and c.cell_type == "code"]
    assert len(stubs) == 3
    assert "def relu(x: np.ndarray) -> np.ndarray:" in text, "signatures stay for the student"
    assert all(not cell.get("outputs") for cell in released.cells if cell.cell_type == "code")
    assert "BEGIN SOLUTION" in "".join(c.source for c in source.cells), "the source is not modified"


def test_check_reports_a_stale_release_and_release_repairs_it(tmp_path, course):
    copy = Course(tmp_path)
    (copy.source_root / "warmup").mkdir(parents=True)
    nb = nbformat.read(course.source_root / "warmup" / "warmup.ipynb", as_version=4)
    nbformat.write(nb, copy.source_root / "warmup" / "warmup.ipynb")
    (copy.source_root / "warmup" / "data.csv").write_text("x\n1\n")

    runner = CliRunner()
    stale = runner.invoke(cli, ["release", "--check", "--course", str(tmp_path)])
    assert stale.exit_code == 1
    assert "assignments/warmup/warmup.ipynb is missing" in stale.output

    release(copy)
    assert (copy.release_root / "warmup" / "data.csv").read_text() == "x\n1\n"
    fresh = runner.invoke(cli, ["release", "--check", "--course", str(tmp_path)])
    assert fresh.exit_code == 0, fresh.output

    nb.cells[0].source += "\nOne more line."
    nbformat.write(nb, copy.source_root / "warmup" / "warmup.ipynb")
    edited = runner.invoke(cli, ["release", "--check", "--course", str(tmp_path)])
    assert edited.exit_code == 1
    assert "warmup.ipynb differs from its source" in edited.output


@pytest.mark.parametrize("fault", ["duplicated", "missing", "a list", "autotest"])
def test_a_faulty_grade_id_is_one_line_naming_the_file(tmp_path, fault):
    root = tmp_path / "course"
    shutil.copytree(REPO / "source_notebooks" / "warmup", root / "source_notebooks" / "warmup")
    path = root / "source_notebooks" / "warmup" / "warmup.ipynb"
    notebook = nbformat.read(path, as_version=4)
    tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    if fault == "duplicated":
        tests[1].metadata.nbgrader.grade_id = tests[0].metadata.nbgrader.grade_id
    elif fault == "a list":
        tests[1].metadata.nbgrader.grade_id = ["test", "relu"]
    elif fault == "autotest":  # nbgrader 0.9's templates: left unexpanded, a blank notebook would pass
        tests[1].source = "### AUTOTEST relu(0.0)\n" + tests[1].source
    else:
        del tests[1].metadata.nbgrader["grade_id"]
    nbformat.write(notebook, path)
    for command in (["release", "warmup"], ["grade", "warmup", str(tmp_path), "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(cli, [*command, "--course", str(root)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "source_notebooks/warmup/warmup.ipynb: cell" in result.output, result.output
        said = {"duplicated": "share the grade_id", "autotest": "uses nbgrader's ### AUTOTEST directive"}
        assert said.get(fault, "without a grade_id") in result.output
