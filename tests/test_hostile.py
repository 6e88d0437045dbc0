"""Does one hostile hand-in cost an honest student their grade, exhaust the grader, or put script in a page?

The corpus of `tests/hostile.py` (one hand-in per kind of attack) and notebooks that hypothesis
breaks at random are each graded in one class beside the demo class's honest hand-ins.
"""

import csv
import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import MARKUP, RELEASE, hostile_hand_ins
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.core.model import Status
from autograder.grade import grade_assignment

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo" / "warmup"
GRADER = Path(sys.executable).with_name("autograder")

MAX_GRADER_RSS = 1536 * 1024**2
"""The grader's peak memory, its kernels included (they are its children), while it grades the corpus."""

MAX_PAGE_BYTES = 5 * 1024**2


def expected_grades() -> dict[str, tuple[str, str, str]]:
    with (DEMO / "expected_grades.csv").open() as f:
        return {
            row["student_id"]: (row["score"], row["max_score"], row["status"]) for row in csv.DictReader(f)
        }


def honest_class(folder: Path, students: list[str] | None = None) -> None:
    for student in students or expected_grades():
        shutil.copytree(DEMO / student, folder / student)


def check_outputs(out: Path, hostile: list[str], honest: list[str]) -> dict[str, dict]:
    """Every honest grade as expected, a row for every hostile hand-in, no page with the student's markup."""
    with (out / "grades.csv").open() as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    expected = expected_grades()
    for student in honest:
        row = rows[student]
        assert (row["score"], row["max_score"], row["status"]) == expected[student], student
    for student in hostile:
        assert rows[student]["status"] in set(Status), student
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert len(text) < MAX_PAGE_BYTES, page
        assert MARKUP not in text and "<script>alert(" not in text, page
    return rows


@pytest.mark.slow
def test_hostile_corpus_beside_honest_class(tmp_path):
    submissions = tmp_path / "submissions"
    hand_ins = hostile_hand_ins()
    for student, content in hand_ins.items():
        (submissions / student).mkdir(parents=True)
        (submissions / student / "warmup.ipynb").write_bytes(content)
    honest_class(submissions)
    out = tmp_path / "out"
    # A process of its own, so that the peak memory of its children is the grader's and its kernels'.
    measure = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", measure, str(GRADER), "grade", "warmup", str(submissions), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    peak = int(run.stdout.split()[-1])
    assert peak < MAX_GRADER_RSS, f"the grader took {peak / 1024**2:.0f} MB"
    rows = check_outputs(out, list(hand_ins), list(expected_grades()))
    many = rows["x-many-small-files"]
    assert many["status"] == Status.KERNEL_DIED
    feedback = out / "feedback"
    assert (feedback / "x-error-flood" / "warmup.html").stat().st_size < 1024**2
    assert (
        "too deeply" in (feedback / "x-deep-json" / "warmup.html").read_text()
        or rows["x-deep-json"]["status"] == Status.INVALID
    )


# Random JSON, with the values that break naive decoders: huge integers, lone surrogates, deep nesting.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just("$HUGE$"),  # replaced by a 5,000-digit integer once written
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["\ud800", "\udcff x", "<script>alert(1)</script>", "### BEGIN SOLUTION", ""]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_deep = st.integers(min_value=100, max_value=20_000).map(lambda n: "[" * n + "]" * n)
_FIELDS = ["metadata", "source", "cell_type", "outputs", "execution_count", "id", "attachments"]
_NBGRADER = ["grade_id", "points", "solution", "grade", "locked", "schema_version", "task"]


@st.composite
def malformed_notebook(draw) -> bytes:
    """A warm-up hand-in broken at random: its bytes, structure, types, nesting or size."""
    notebook = json.loads(RELEASE.read_text())
    kind = draw(st.sampled_from(["bytes", "encoding", "top", "cell", "nbgrader", "deep", "cells", "big"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "encoding":
        return json.dumps(notebook, ensure_ascii=False).encode(
            draw(st.sampled_from(["utf-16", "utf-32", "latin-1"])), "replace"
        )
    if kind == "top":
        notebook[draw(st.sampled_from(["cells", "metadata", "nbformat", "nbformat_minor", "extra"]))] = draw(
            _json
        )
    elif kind == "cell":
        cell = draw(st.sampled_from(notebook["cells"]))
        cell[draw(st.sampled_from(_FIELDS))] = draw(_json)
    elif kind == "nbgrader":
        cell = draw(st.sampled_from([c for c in notebook["cells"] if "nbgrader" in c["metadata"]]))
        cell["metadata"]["nbgrader"][draw(st.sampled_from(_NBGRADER))] = draw(_json)
    elif kind == "cells":
        notebook["cells"] = draw(st.lists(st.sampled_from(notebook["cells"]) | _json, max_size=8))
    elif kind == "big":
        cell = draw(st.sampled_from(notebook["cells"]))
        cell["source"] = "x = 1\n" * draw(st.integers(min_value=1, max_value=200_000))
    text = json.dumps(notebook, ensure_ascii=draw(st.booleans()))
    if kind == "deep":
        text = text.replace('"metadata": {', f'"metadata": {{"deep": {draw(_deep)}, ', 1)
    return text.replace('"$HUGE$"', "9" * 5000).encode("utf-8", "surrogatepass")


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(malformed_notebook(), min_size=6, max_size=6))
def test_malformed_notebooks_beside_honest_ones(tmp_path_factory, course, notebooks):
    folder = tmp_path_factory.mktemp("fuzz")
    submissions = folder / "submissions"
    hostile = [f"z{n}" for n in range(len(notebooks))]
    for student, content in zip(hostile, notebooks, strict=True):
        (submissions / student).mkdir(parents=True)
        (submissions / student / "warmup.ipynb").write_bytes(content)
    honest = ["s230001", "s230003"]
    honest_class(submissions, honest)
    grade_assignment(course, "warmup", submissions, folder / "out")
    check_outputs(folder / "out", hostile, honest)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < 2 * MAX_GRADER_RSS
