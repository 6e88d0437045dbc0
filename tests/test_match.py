"""Are answers found in edited notebooks: stripped metadata, duplicates, moved or re-typed cells?"""

import copy

import nbformat
import pytest

from autograder.authoring.release import release_notebook
from autograder.grading.match import match_answers, rebuild_for_grading

RELU = "def relu(x):\n    return np.maximum(x, 0)"


@pytest.fixture(scope="module")
def source(course):
    return nbformat.read(course.source_root / "warmup" / "warmup.ipynb", as_version=4)


@pytest.fixture(scope="module")
def release(source):
    return release_notebook(source)


def answered(release, **answers):
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return notebook


def cell_of(notebook, grade_id):
    return next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_an_untouched_notebook_needs_no_repair(release):
    matched = match_answers(release, answered(release, relu=RELU))
    assert matched.answers["relu"] == RELU
    assert matched.repairs == [] and matched.extra == {}


def test_stripped_metadata_is_matched_by_the_names_a_cell_defines(release):
    notebook = answered(release, relu=RELU)
    for cell in notebook.cells:
        cell.metadata = {}
    matched = match_answers(release, notebook)
    assert matched.answers["relu"] == RELU
    assert set(matched.answers) == {"relu", "relu_derivative", "dense_relu", "why_relu"}
    assert any("'relu' had lost its nbgrader id" in r for r in matched.repairs)
    assert matched.extra == {}, "copies of the given cells are not counted as the student's own code"


def test_a_duplicated_answer_cell_grades_the_last_copy(release):
    notebook = answered(release, relu="def relu(x):\n    return x")
    late = copy.deepcopy(cell_of(notebook, "relu"))
    late.source = RELU
    del late["id"]
    notebook.cells.append(late)
    matched = match_answers(release, notebook)
    assert matched.answers["relu"] == RELU
    assert any("appears 2 times" in r for r in matched.repairs)


def test_an_answer_turned_into_markdown_is_graded_as_code(release):
    notebook = answered(release)
    index = notebook.cells.index(cell_of(notebook, "relu"))
    notebook.cells[index] = nbformat.v4.new_markdown_cell(RELU)
    matched = match_answers(release, notebook)
    assert matched.answers["relu"] == RELU
    assert any("markdown" in r for r in matched.repairs)


def test_edited_tests_are_replaced_by_the_source_tests(source, release):
    notebook = answered(release, relu=RELU)
    cell_of(notebook, "test_relu").source = "assert True"
    matched = match_answers(release, notebook)
    assert any("'test_relu' was edited" in r for r in matched.repairs)
    rebuilt = rebuild_for_grading(source, release, matched)
    assert cell_of(rebuilt, "test_relu").source == cell_of(source, "test_relu").source
    assert "BEGIN HIDDEN TESTS" in cell_of(rebuilt, "test_relu").source


def test_cells_a_student_added_run_after_the_answer_they_follow(source, release):
    notebook = answered(release, relu=RELU)
    index = notebook.cells.index(cell_of(notebook, "relu"))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell("helper = 42"))
    rebuilt = rebuild_for_grading(source, release, match_answers(release, notebook))
    sources = [c.source for c in rebuilt.cells]
    assert sources[sources.index(RELU) + 1] == "helper = 42"


def test_a_missing_answer_keeps_the_released_stub(source, release):
    notebook = answered(release)
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "relu"]
    matched = match_answers(release, notebook)
    assert any("no answer found for 'relu'" in r for r in matched.repairs)
    rebuilt = rebuild_for_grading(source, release, matched)
    assert "raise NotImplementedError()" in cell_of(rebuilt, "relu").source
