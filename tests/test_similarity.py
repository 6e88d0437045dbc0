"""`autograder similarity`: does a shared answer stand out in a class of independent ones, and does the
code everyone is given not make everyone look alike?

The class is made of demo hand-ins and hand-written alternative correct answers to warmup. Demo students
s230003 and s230004 are left out of the independent class: they hand in s230001's answers (the demo's
author wrote them), and here s230004 is the test that stripped metadata still compares the right code.
"""

import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from click.testing import CliRunner
from conftest import REPO
from hand_ins import with_answers

from autograder.cli import cli
from autograder.core.course import Course
from autograder.core.errors import CourseError
from autograder.similarity import PAGE, render_similarity, similarity_report

DEMO = REPO / "demo" / "warmup"
RELEASE = REPO / "assignments" / "warmup" / "warmup.ipynb"

# Correct answers written independently, each set in its own way.
INDEPENDENT = {
    "ana": {
        "relu": "def relu(x):\n    return np.maximum(x, 0)",
        "relu_derivative": "def relu_derivative(x):\n    return np.where(np.asarray(x) > 0, 1.0, 0.0)",
        "dense_relu": "def dense_relu(X, W, b):\n    return relu(np.matmul(X, W) + b)",
    },
    "bo": {
        "relu": "def relu(x):\n    out = x.copy()\n    out[out < 0] = 0\n    return out",
        "relu_derivative": (
            "def relu_derivative(x):\n    grad = np.zeros(np.shape(x), dtype=float)\n"
            "    grad[np.asarray(x) > 0] = 1.0\n    return grad"
        ),
        "dense_relu": "def dense_relu(X, W, b):\n    z = X.dot(W)\n    z += b\n    return relu(z)",
    },
    "chen": {
        "relu": "relu = lambda x: x * (x > 0)",
        "relu_derivative": "def relu_derivative(x):\n    return np.greater(x, 0).astype(np.float64)",
        "dense_relu": (
            "def dense_relu(X, W, b):\n    pre = np.einsum('ni,io->no', X, W) + b[None, :]\n"
            "    return np.clip(pre, 0, None)"
        ),
    },
    "dana": {
        "relu": "def relu(x):\n    return np.clip(x, 0, None)",
        "relu_derivative": "def relu_derivative(x):\n    return np.sign(np.maximum(x, 0)).astype(float)",
        "dense_relu": (
            "def dense_relu(X, W, b):\n    n = X.shape[0]\n    bias = np.tile(b, (n, 1))\n"
            "    return relu(X @ W + bias)"
        ),
    },
}

# One answer that two students share: the second renamed every variable and reformatted the code.
SHARED = (
    "def dense_relu(X, W, b):\n"
    "    X = np.atleast_2d(np.asarray(X, dtype=float))\n"
    "    hidden = X @ np.asarray(W, dtype=float)\n"
    "    hidden = hidden + np.reshape(b, (1, -1))\n"
    "    return np.where(hidden > 0, hidden, 0.0)"
)
SHARED_RENAMED = (
    "def dense_relu(inputs,weights,bias):\n"
    "  inputs=np.atleast_2d( np.asarray(inputs,dtype = float) )\n\n"
    "  z = inputs@np.asarray( weights, dtype=float )\n"
    "  z = z+np.reshape( bias,(1,-1) )\n"
    "  return np.where( z>0, z, 0.0 )"
)


def independent_class(root, extra: dict | None = None):
    """Demo hand-ins s230001, s230002, s230005 (blank) and s230006, the INDEPENDENT students, and `extra`."""
    for student in ("s230001", "s230002", "s230005", "s230006"):
        shutil.copytree(DEMO / student, root / student)
    for student, answers in {**INDEPENDENT, **(extra or {})}.items():
        (root / student).mkdir(parents=True)
        nbformat.write(with_answers(RELEASE, answers), root / student / "warmup.ipynb")
    return root


def report_of(folder, tmp_path):
    return similarity_report(Course(REPO), "warmup", folder, tmp_path / "out")


def test_a_shared_answer_with_renamed_variables_ranks_above_every_independent_pair(tmp_path):
    # They answered nothing else: the rest of their notebooks is the release, which everyone shares.
    pair = {"eli": {"dense_relu": SHARED}, "finn": {"dense_relu": SHARED_RENAMED}}
    report = report_of(independent_class(tmp_path / "class", pair), tmp_path)

    first, *others = report.pairs
    assert first.students == ("eli", "finn")
    assert [answer.answer for answer in first.answers] == ["dense_relu"]
    assert min(first.answers[0].similarity) > 0.9
    assert others and all(pair.shared < first.shared for pair in others)
    assert first.shared > 2 * others[0].shared, "the shared answer should stand out, not edge ahead"


def test_the_code_everyone_is_given_makes_no_pair_look_alike(tmp_path):
    report = report_of(independent_class(tmp_path / "class"), tmp_path)

    assert len(report.students) == 8
    # The blank release holds only given code: the signatures, docstrings and the test cells.
    assert not [pair for pair in report.pairs if "s230005" in pair.students]
    independent = set(INDEPENDENT)
    for pair in report.pairs:
        if set(pair.students) <= independent:
            assert max(pair.similarity) < 0.5, pair
    # What the demo students do share is the one line of relu they all wrote alike.
    shared = {pair.students: [answer.answer for answer in pair.answers] for pair in report.pairs}
    assert shared[("s230001", "s230002")] == ["relu"]


def test_stripped_metadata_and_a_moved_cell_still_compare_the_right_answers(tmp_path):
    for student in ("s230001", "s230004", "s230005"):
        shutil.copytree(DEMO / student, tmp_path / "class" / student)

    [pair] = report_of(tmp_path / "class", tmp_path).pairs

    assert pair.students == ("s230001", "s230004")
    assert [answer.answer for answer in pair.answers] == ["dense_relu", "relu", "relu_derivative"]
    assert pair.similarity == (1.0, 1.0)


def test_the_page_escapes_a_students_script_and_draws_no_verdict(tmp_path):
    hostile = "def relu(x):\n    label = '<script>alert(1)</script>'\n    return np.maximum(x, 0)"
    extra = {"eve": {"relu": hostile}, "mal": {"relu": hostile}}
    page = render_similarity(report_of(independent_class(tmp_path / "class", extra), tmp_path))

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "default-src 'none'" in page
    for verdict in ("cheat", "plagiar", "copied", "guilty", "suspicious"):
        assert verdict not in page.lower()


def test_the_command_writes_the_page(tmp_path):
    folder = independent_class(
        tmp_path / "class", {"eli": {"dense_relu": SHARED}, "finn": {"dense_relu": SHARED}}
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["similarity", "warmup", str(folder), "--out", str(out), "--course", str(REPO)]
    )

    assert result.exit_code == 0, result.output
    assert f"the most similar pairs, side by side: {out / PAGE}" in result.output
    page = (out / PAGE).read_text(encoding="utf-8")
    assert "warmup: similar hand-ins" in page
    assert "<mark>" in page


def test_an_empty_folder_is_one_clear_line(tmp_path):
    (tmp_path / "class").mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "similarity",
            "warmup",
            str(tmp_path / "class"),
            "--out",
            str(tmp_path / "out"),
            "--course",
            str(REPO),
        ],
    )

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ") and "holds no student folders" in line


def test_one_hand_in_is_nothing_to_compare(tmp_path):
    shutil.copytree(DEMO / "s230001", tmp_path / "class" / "s230001")
    with pytest.raises(CourseError, match="comparing needs at least two"):
        report_of(tmp_path / "class", tmp_path)


def test_a_line_most_of_a_large_class_writes_alike_is_common_not_shared(tmp_path):
    for n in range(10):  # ten students who all answered relu with the same one line, and nothing else
        shutil.copytree(DEMO / "s230006", tmp_path / "class" / f"s{n}")
    assert report_of(tmp_path / "class", tmp_path).pairs == []

    for n in range(3, 10):
        shutil.rmtree(tmp_path / "class" / f"s{n}")
    assert len(report_of(tmp_path / "class", tmp_path / "small").pairs) == 3, "three are not a class's habit"


def test_the_scores_are_the_same_in_every_run():
    """copydetect's own k-gram hashes change with Python's hash seed; ours must not."""
    script = (
        "import sys, tempfile; from pathlib import Path; sys.path.insert(0, 'tests'); import test_similarity as t\n"
        "tmp = Path(tempfile.mkdtemp())\n"
        "pair = {'eli': {'dense_relu': t.SHARED}, 'finn': {'dense_relu': t.SHARED_RENAMED}}\n"
        "r = t.report_of(t.independent_class(tmp / 'class', pair), tmp)\n"
        "print([(p.students, p.shared, [a.similarity for a in p.answers]) for p in r.pairs])\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1] and "eli" in runs[0]
