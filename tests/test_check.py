"""`autograder check`: the mutation operators on small pieces of code, and real runs on made-up courses.

The operator tests take milliseconds. The run on a made-up two-function assignment whose hidden tests were
weakened grades a handful of notebooks; the sampled run on the course's real warmup (a check of the
course's own tests, kept on purpose) is slow.
"""

import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from synthetic import QUIZ, answer, check, given, write_course, write_quiz_course

from autograder.authoring.mutate import (
    EQUIVALENTS_FILE,
    cell_mutants,
    notebook_mutants,
    read_equivalents,
    sample_mutants,
    solution_lines,
)
from autograder.authoring.release import release
from autograder.cli import cli
from autograder.core.cells import is_answer, nbgrader_meta
from autograder.core.course import Course
from autograder.core.errors import CourseError


def solution(body: str, before: str = "", after: str = "") -> str:
    """An answer cell: `def f(x, y, optimizer)` whose solution region is `body`."""

    def indent(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") + "\n" if code.strip() else ""

    return (
        "def f(x, y, optimizer):\n"
        f"{indent(before)}"
        "    ### BEGIN SOLUTION\n"
        f"{indent(body)}"
        "    ### END SOLUTION\n"
        f"{indent(after)}"
    )


def afters(body: str, operator: str) -> set[str]:
    return {m.after for m in cell_mutants("part", solution(body)) if m.operator == operator}


@pytest.mark.parametrize(
    ("body", "operator", "expected"),
    [
        ("return x + y", "arithmetic", {"return x - y"}),
        ("return x @ y / 2", "arithmetic", {"return x * y / 2", "return x @ y * 2"}),
        ("x += y\nreturn x", "arithmetic", {"x -= y"}),
        ("return x < y", "comparison", {"return x <= y", "return x >= y"}),
        ("return x is None", "comparison", {"return x is not None"}),
        ("return x[0] + 5", "constant", {"return x[1] + 5", "return x[0] + 6"}),
        ("return f(x, strict=True)", "constant", {"return f(x, strict=False)"}),
        (
            "return [x[i] for i in range(len(y))]",
            "off-by-one",
            {"return [x[i] for i in range(len(y) + 1)]", "return [x[i] for i in range(len(y) - 1)]"},
        ),
        ("return x[: len(y)]", "off-by-one", {"return x[: len(y) + 1]", "return x[: len(y) - 1]"}),
        ("z = x * y\nreturn z", "remove-statement", {"pass"}),
        ("optimizer.zero_grad()\nreturn x", "drop-call", {"pass"}),
        ("return -x", "sign", {"return x"}),
        ("return x * y", "sign", {"return -(x * y)"}),
        ("return x and y", "boolean", {"return x or y"}),
        ("return not x", "boolean", {"return x"}),
        ("return x * y", "return", {"return None"}),
    ],
)
def test_each_operator_makes_its_mutant(body, operator, expected):
    assert afters(body, operator) == expected


def test_only_the_solution_region_is_mutated_and_the_rest_of_the_cell_is_kept():
    source = solution("y = x * 2  # doubled\nreturn y", before="x = x + 1", after="")
    (region,) = solution_lines(source)
    mutants = cell_mutants("part", source)
    assert mutants
    for mutant in mutants:
        assert region[0] <= mutant.line <= region[1]
        assert "x = x + 1" in mutant.code.splitlines()[1], "the code outside the solution changed"
        assert "### BEGIN SOLUTION" in mutant.code
    assert any("# doubled" in m.code and m.operator == "arithmetic" for m in mutants), "comments are kept"


def test_mutants_compile_are_distinct_and_differ_from_the_original():
    source = solution("return (x + 0) * 1 if x > 0 else -(-x)")
    mutants = cell_mutants("part", source)
    codes = [m.code for m in mutants]
    assert len(codes) == len(set(codes))
    for code in codes:
        compile(code, "<mutant>", "exec")
        assert code != source


def test_ids_survive_unrelated_edits():
    first = cell_mutants("part", solution("z = x * y\nreturn z + 1"))
    edited = "import math\n\n\n" + solution("w = 2  # new line\nz = x * y\nreturn z + 1")
    second = cell_mutants("part", edited)
    assert {m.id for m in first} <= {m.id for m in second}
    assert all(re.fullmatch(r"[0-9a-f]{10}", m.id) for m in second)
    assert len({m.id for m in second}) == len(second)


def test_the_same_line_twice_gives_different_ids():
    mutants = cell_mutants("part", solution("x = x + 1\nx = x + 1\nreturn x"))
    assert len({m.id for m in mutants}) == len(mutants)


def test_cells_without_a_solution_region_or_that_do_not_parse_give_no_mutant():
    assert cell_mutants("part", "def f(x):\n    return x + 1\n") == []
    assert cell_mutants("part", "%matplotlib inline\n### BEGIN SOLUTION\nx = 1 + 2\n### END SOLUTION\n") == []


def test_the_sample_is_reproducible_and_reaches_every_answer():
    notebook = nbformat.v4.new_notebook(cells=[c for c in QUIZ if c.cell_type == "code"])  # no written part
    mutants = notebook_mutants(notebook)
    answers = {nbgrader_meta(c)["grade_id"] for c in notebook.cells if is_answer(c)}
    sample = sample_mutants(mutants, seed=3, sample=len(answers))
    assert sample == sample_mutants(mutants, seed=3, sample=len(answers))
    assert {m.grade_id for m in sample} == answers
    assert sample != sample_mutants(mutants, seed=4, sample=len(answers))
    capped = sample_mutants(mutants, per_cell=2)
    assert len(capped) == 2 * len(answers)


def test_equivalents_file_is_read_and_a_bad_line_is_one_clear_error(tmp_path):
    path = tmp_path / EQUIVALENTS_FILE
    assert read_equivalents(path) == {}
    path.write_text("# a comment\n\n0123456789  # relu: x -> y | why: same values\n")
    assert read_equivalents(path) == {"0123456789": "relu: x -> y | why: same values"}
    path.write_text("relu is fine\n")
    with pytest.raises(CourseError, match=r"\.equivalent_mutants:1: expected a mutant id"):
        read_equivalents(path)


def test_unknown_assignment_and_unknown_mutant_are_one_line_errors(tmp_path):
    course = write_quiz_course(tmp_path / "course")
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "nosuch", "--course", str(course.root)])
    assert result.exit_code == 1
    assert "unknown assignment 'nosuch'" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["check", "quiz", "--only", "0000000000", "--course", str(course.root)])
    assert result.exit_code == 1
    assert "quiz has no mutant with id 0000000000" in result.output


STEPS = [
    given("# Steps", "intro", kind="markdown"),
    answer(
        "step", "def step(x):\n    ### BEGIN SOLUTION\n    return 1.0 if x > 0 else 0.0\n    ### END SOLUTION"
    ),
    check(
        "test_step",
        'assert step(2.0) == 1.0, "step is 1 for x > 0"\n'
        "### BEGIN HIDDEN TESTS\n"
        'observe("step at 0", step(0.0), hint="step(0) is 0")\n'
        'observe("step of -1", step(-1.0))\n'
        "### END HIDDEN TESTS",
        points=2,
    ),
    answer("double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
    check(
        "test_double",
        'assert double(1) == 2\n### BEGIN HIDDEN TESTS\nobserve("double of 21", double(21))\n### END HIDDEN TESTS',
        points=2,
    ),
]
"""A made-up assignment of two autograded functions, 2 points each; `step`'s hidden tests look at 0."""


def weakened_steps(root: Path) -> Course:
    """A course with only the steps assignment, whose step test lost most of its hidden part (step(0) = 0 among it)."""
    write_course(root, "steps", STEPS)
    path = root / "source_notebooks" / "steps" / "steps.ipynb"
    notebook = nbformat.read(path, as_version=4)
    (test,) = [c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == "test_step"]
    weak = 'observe("step away from 0", [step(-1.0), step(2.0)])'
    test.source = test.source.split("### BEGIN HIDDEN TESTS")[0] + weak
    nbformat.write(notebook, path)
    return Course(root)


def test_check_lists_a_survivor_of_weak_tests_until_it_is_marked_equivalent(tmp_path):
    course = weakened_steps(tmp_path / "course")
    source = nbformat.read(course.source_root / "steps" / "steps.ipynb", as_version=4)
    mutants = notebook_mutants(source)
    (boundary,) = [m for m in mutants if m.after == "return 1.0 if x >= 0 else 0.0"]
    (dropped,) = [m for m in mutants if m.where == "double" and m.operator == "return"]
    command = ["check", "steps", "--only", boundary.id, "--only", dropped.id]
    command += ["--workers", "1", "--course", str(course.root)]
    runner = CliRunner()

    result = runner.invoke(cli, command)
    assert "steps.ipynb: solution 4/4, blank release 0/4" in result.output
    assert "killed 1 of 2 mutants: 50.0% (threshold 90%: NOT met)" in result.output, result.output
    survivors = result.output.split("survivors")[1]
    assert f"{boundary.id}  # step, line 3 [comparison]" in survivors
    assert dropped.id not in survivors
    assert result.exit_code == 1

    equivalents = course.source_root / "steps" / EQUIVALENTS_FILE
    equivalents.write_text(f"{boundary.id}  # marked by the test\n")
    result = runner.invoke(cli, command)
    assert "1 sampled ones marked equivalent" in result.output
    assert "killed 1 of 1 mutants: 100.0% (threshold 90%: met)" in result.output, result.output
    assert result.exit_code == 0

    # The teacher's list stays out of the release (and so out of the grading scratch folder).
    written = release(course, ["steps"])
    assert [p.name for p in written] == ["steps.ipynb"]
    assert EQUIVALENTS_FILE not in {p.name for p in course.source_files("steps")}


@pytest.mark.slow
def test_sampled_check_of_warmup_passes(course):
    """The course's own warmup kills every sampled mutant: a check of the course, on the course on purpose."""
    result = CliRunner().invoke(
        cli, ["check", "warmup", "--sample", "8", "--workers", "2", "--course", str(course.root)]
    )
    assert "warmup.ipynb: solution 7/7, blank release 0/7" in result.output
    assert re.search(r"killed (\d) of \1 mutants: 100\.0%", result.output), result.output
    assert result.exit_code == 0


def test_a_test_cell_that_observes_nothing_is_a_fault_of_the_assignment(tmp_path):
    course = weakened_steps(tmp_path / "course")
    path = course.source_root / "steps" / "steps.ipynb"
    notebook = nbformat.read(path, as_version=4)
    (test,) = [c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == "test_step"]
    test.source = test.source.split("observe(")[0].rstrip()  # visible asserts only
    nbformat.write(notebook, path)
    release(course, ["steps"])
    runner = CliRunner()
    result = runner.invoke(cli, ["release", "--check", "steps", "--course", str(course.root)])
    assert result.exit_code == 1
    assert "test cell 'test_step' observes nothing" in result.output
    result = runner.invoke(
        cli, ["check", "steps", "--sample", "1", "--workers", "1", "--course", str(course.root)]
    )
    assert result.exit_code == 1
    assert "test cells that observe nothing" in result.output and "test_step" in result.output
