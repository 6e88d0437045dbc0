"""Can a hand-in earn points by tampering with the checks instead of answering?

Every hand-in here answers all three parts wrongly and then tries one trick. Each must score no
more than the same wrong answers without the trick: zero. (Without the guard, patching numpy's
comparison functions earns the relu_derivative points; `tests/test_integrity.py` keeps it honest.)
"""

import nbformat
import pytest
from conftest import REPO

from autograder.core.config import GradingSettings
from autograder.grade import grade_assignment

RELEASE = REPO / "assignments" / "warmup" / "warmup.ipynb"

WRONG = {
    "relu": "def relu(x):\n    return x",
    # Wrong only between 0 and 0.5, which one hidden np.array_equal check catches: a trick that
    # defeats that check would show here.
    "relu_derivative": "def relu_derivative(x):\n    return (np.asarray(x) > 0.5).astype(float)",
    "dense_relu": "def dense_relu(X, W, b):\n    return X",
}

TRICKS = {
    "patches-allclose": "np.allclose = lambda *args, **kwargs: True\nnp.array_equal = lambda *args, **kwargs: True",
    "patches-numpy-helpers": "import numpy\nnumpy.where = lambda c, a, b: a\nnumpy.shape = lambda a: (32, 10)",
    "fake-numpy-module": (
        "import sys, types\n"
        "fake = types.ModuleType('numpy')\n"
        "fake.__getattr__ = lambda name: (lambda *a, **k: True)\n"
        "sys.modules['numpy'] = fake\n"
        "np = fake"
    ),
    "writes-numpy-file": (
        "open('numpy.py', 'w').write('def __getattr__(name):\\n    return lambda *a, **k: True\\n')\n"
        "import sys\n"
        "del sys.modules['numpy']\n"
        "import numpy as np"
    ),
    "patches-builtins": (
        "import builtins\n"
        "builtins.isinstance = lambda *a: True\n"
        "builtins.max = lambda *a, **k: 0\n"
        "builtins.sum = lambda *a, **k: 0"
    ),
    "swallows-errors": "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
    "prints-success": "print('All tests passed! Score: 7 / 7')",
    "raises-system-exit": "def relu(x):\n    raise SystemExit(0)",
    "edits-tests": None,  # replaces every visible test by `assert True`
}


def hand_in(trick: str | None) -> nbformat.NotebookNode:
    notebook = nbformat.read(RELEASE, as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata["nbgrader"]
        if meta["grade_id"] in WRONG:
            cell.source = WRONG[meta["grade_id"]]
            if meta["grade_id"] == "relu" and trick:
                cell.source += "\n\n" + trick
        elif meta.get("grade") and trick is None:
            cell.source = "assert True"
    return notebook


@pytest.mark.slow
def test_no_trick_scores_more_than_wrong_answers(course, make_class, tmp_path):
    hand_ins = {"plain-wrong": hand_in("")} | {name: hand_in(code) for name, code in TRICKS.items()}
    settings = GradingSettings(cell_timeout=10)  # a wrecked kernel costs one cell timeout
    graded = grade_assignment(course, "warmup", make_class(hand_ins), tmp_path / "o", settings=settings)
    grades = {g.student_id: g for g in graded}
    assert grades["plain-wrong"].score == 0
    gained = {name: grades[name].score for name in TRICKS if grades[name].score > 0}
    assert gained == {}, {name: grades[name].parts for name in gained}


@pytest.mark.slow
def test_with_the_kernels_word_alone_patching_numpy_would_pay(course, make_class, tmp_path, monkeypatch):
    """The corpus can fail: without the guard's restore and with the kernel's verdict trusted alone
    (no comparison with the reference run), one trick earns points it did not."""
    monkeypatch.setattr("autograder.grading.guard._RESTORE", "pass")
    monkeypatch.setattr("autograder.grading.score.judge", lambda expected, got: "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a reference run of this guard
    submissions = make_class({"patches-allclose": hand_in(TRICKS["patches-allclose"])})
    [grade] = grade_assignment(course, "warmup", submissions, tmp_path / "o")
    assert grade.passes_every_test and grade.score == 7.0  # every test passed: the trick paid
