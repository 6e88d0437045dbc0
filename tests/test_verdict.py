"""The verdict outside the kernel: observations as plain data, judged against the reference run's."""

from pathlib import Path

import IPython.display
import nbformat
import numpy as np
import pytest
from click.testing import CliRunner
from synthetic import QUIZ_RIGHT, quiz_hand_in, write_quiz_course

from autograder import grade as grade_module
from autograder.cli import cli
from autograder.core.cells import nbgrader_meta
from autograder.core.course import Course
from autograder.grade import grade_assignment
from autograder.grading.evidence import suspicious_lines
from autograder.grading.observation import (
    BadObservation,
    Observation,
    Unrecordable,
    decode,
    encode,
    prelude_source,
)
from autograder.grading.verdict import check_problems, judge


def observed(name, value, **check):
    """An observation as the grader decodes it, after the kernel-side `observe` encoded it."""
    published = []
    namespace = {}
    real = IPython.display.publish_display_data
    # The kernel's own code, run here with a stand-in for the kernel's publisher.
    IPython.display.publish_display_data = lambda data, metadata: published.append(data)
    try:
        exec(prelude_source(), namespace)
        namespace["observe"](name, value, **check)
    finally:
        IPython.display.publish_display_data = real
    [data] = published
    return decode(next(iter(data.values())))


def test_values_cross_as_plain_data():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = observed("x", {"a": [1, 2.5, None, "s", True], "b": array, "c": np.float64(3.0), "d": float("nan")})
    assert got.value["a"] == [1, 2.5, None, "s", True]
    assert got.value["b"].dtype == np.float32 and np.array_equal(got.value["b"], array)
    assert got.value["c"] == 3.0 and np.isnan(got.value["d"])
    assert observed("zero-d", np.array(-3.0)).value.shape == ()
    assert decode(encode_payload(got)).value["b"].shape == (2, 3)


def encode_payload(observation: Observation) -> dict:
    return {"name": observation.name, "value": encode(observation.value), "check": encode(observation.check)}


def test_a_value_that_lies_arrives_as_the_numbers_it_holds():
    class Liar(float):
        def __eq__(self, other):
            return True

    class LyingArray(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), bool)

    assert type(observed("x", Liar(1.0)).value) is float
    assert judge([observed("x", 2.0)], [observed("x", Liar(1.0))]) == "x: expected 2, got 1"
    lying = np.zeros(3).view(LyingArray)
    assert "3 of 3 values differ" in judge([observed("y", np.ones(3))], [observed("y", lying)])
    marker = observed("z", object()).value
    assert isinstance(marker, Unrecordable) and marker != marker  # never equal, not even to itself
    assert judge([observed("z", 1.0)], [observed("z", object())]).startswith("z: expected 1, got a object")


def test_the_references_check_decides_not_the_students():
    reference = [observed("loss", 1.0, rtol=1e-3, hint="check the mean")]
    assert judge(reference, [observed("loss", 1.0005)]) == ""
    assert judge(reference, [observed("loss", 1.1, rtol=1e9)]) == "loss: expected 1, got 1.1 - check the mean"
    assert "not observed" in judge(reference, [])
    assert judge(reference, [observed("other", 1.0)]).startswith("loss: not observed")


def test_repeated_names_pair_up_in_order_and_shapes_and_dtypes_count():
    reference = [observed("step", 1.0), observed("step", 2.0)]
    assert judge(reference, [observed("step", 1.0), observed("step", 2.0)]) == ""
    assert judge(reference, [observed("step", 2.0), observed("step", 1.0)]) != ""
    assert "shape" in judge([observed("a", np.zeros((2, 3)))], [observed("a", np.zeros(6))])
    strict = [observed("a", np.zeros(2, np.float32), dtype=True)]
    assert "dtype" in judge(strict, [observed("a", np.zeros(2))])
    assert judge([observed("d", {"k": [1, "x"]})], [observed("d", {"k": [1, "y"]})]).startswith(
        "d: expected 'x'"
    )


def test_bound_checks_are_computed_outside_from_the_observed_numbers():
    labels = np.array([0, 1, 2, 1])
    reference = [
        observed("labels", labels),
        observed("predictions", labels, statistic="accuracy", against="labels", low=0.75),
    ]
    assert check_problems(reference) == []
    good = [observed("labels", labels), observed("predictions", np.array([0, 1, 2, 0]))]
    assert judge(reference, good) == ""
    scores = np.eye(3)[[0, 1, 0, 0]]  # class scores: argmax is taken
    assert "accuracy 0.5 is below the bound 0.75" in judge(
        reference, [observed("labels", labels), observed("predictions", scores)]
    )
    faked = [observed("labels", np.array([0, 0, 0, 0])), observed("predictions", np.array([0, 0, 0, 0]))]
    assert judge(reference, faked).startswith("labels:")  # the labels themselves must match the reference's
    spread = [observed("weights", np.ones(4), statistic="std", low=0.1, high=1.0)]
    assert "std 0 is below" in judge(spread, [observed("weights", np.ones(4))])


def test_checks_an_author_gets_wrong_are_reported():
    assert check_problems([observed("p", 1.0, statistic="accuracy", low=0.9)])  # no `against`
    assert check_problems([observed("p", 1.0, tolerance=3)])  # unknown setting
    assert check_problems([observed("p", 1.0, statistic="median", low=0)])


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x", "value": {"$array": {"dtype": "O", "shape": [1], "data": ""}}},
        {"name": "x", "value": {"$array": {"dtype": "<f8", "shape": [10**9], "data": ""}}},
        {"name": "x", "value": {"$array": {"dtype": "<f8", "shape": [2], "data": "not base64!"}}},
        {"name": "x", "value": {"$pickle": "gASV"}},
        {"name": "x", "value": {"a": 1, "b": 2}},
        {"name": 3, "value": 1},
        {"name": "x", "value": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    ],
)
def test_malformed_observations_are_refused(payload):
    with pytest.raises(BadObservation):
        decode(payload)


def test_evidence_lists_reaching_code_and_leaves_plain_numpy_alone():
    plain = "def relu(x):\n    return np.maximum(x, 0)\n"
    assert suspicious_lines([("answer 'relu'", plain)]) == []
    reaching = (
        "import gc\nnp.allclose = lambda *a: True\nget_ipython().events.register('pre_run_cell', f)\n%time 1"
    )
    lines = suspicious_lines([("answer 'relu'", reaching)])
    assert [line.split(":")[0] for line in lines] == ["answer 'relu', line 1", "answer 'relu', line 2"] + [
        "answer 'relu', line 3"
    ] * (len(lines) - 2)
    assert any("garbage collector" in line for line in lines) and any(
        "rebinds np.allclose" in line for line in lines
    )


def quiz_course(root: Path) -> tuple[Course, Path]:
    """The made-up quiz of tests/synthetic.py in a course of its own, and its source notebook."""
    return write_quiz_course(root), root / "source_notebooks" / "quiz" / "quiz.ipynb"


def test_the_reference_runs_once_per_version_and_a_broken_solution_stops_grading(
    tmp_path, monkeypatch, make_class
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    course, source = quiz_course(tmp_path / "course")
    hand_ins = make_class({"s1": quiz_hand_in(course, QUIZ_RIGHT)}, "quiz.ipynb")
    runs = []
    real_run = grade_module._run
    monkeypatch.setattr(
        grade_module,
        "_run",
        lambda target, handed_in, *a: (
            runs.append(handed_in is target.source) or real_run(target, handed_in, *a)
        ),
    )

    [first] = grade_assignment(course, "quiz", hand_ins, tmp_path / "a")
    [again] = grade_assignment(course, "quiz", hand_ins, tmp_path / "b")  # another class, same version
    assert first.score == again.score == 7
    assert runs == [True, False, False]  # the solution once, then each hand-in
    cached = list((tmp_path / "cache" / "autograder" / "references" / "quiz").glob("*.json"))
    assert len(cached) == 1

    notebook = nbformat.read(source, as_version=4)
    [answer] = [c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == "double"]
    answer.source = answer.source.replace("return 2 * x", "return 2 * x + 1")
    nbformat.write(notebook, source)
    result = CliRunner().invoke(
        cli, ["grade", "quiz", str(hand_ins), "--out", str(tmp_path / "c"), "--course", str(course.root)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "its test 'test_double' fails on the solution" in result.output, result.output


def test_evidence_leaves_a_students_own_names_alone():
    honest = "class Conv:\n    def __init__(self, w):\n        self.kernel = w\n        self.events = []\n"
    assert suspicious_lines([("answer 'conv2d'", honest)]) == []
