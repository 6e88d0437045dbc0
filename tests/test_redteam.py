"""The red-team corpus (tests/redteam.py) against every assignment: nothing earns a point, all is listed.

Each technique goes into the first answer cell of the blank release. A blank notebook scores 0, so
every technique must score 0 too; and each must show in the teacher's report, either as "tampering
suspected" (a canary passed) or with the lines that reach into the grading machinery. Honest code
that uses the same tools (threads, hooks, magics, subclasses) keeps full marks and is not suspected.
"""

import nbformat
import pytest
from hand_ins import answer_cells, with_answers
from redteam import HONEST, TECHNIQUES, forging_technique

from autograder.core.config import GradingSettings
from autograder.core.model import Status
from autograder.grade import GradingTarget, grade_assignment

SETTINGS = GradingSettings(cell_timeout=10, workers=2)
"""A wrecked kernel costs one short cell timeout; two notebooks at a time."""


def _blank_with(release: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(release)
    first = next(iter(answer_cells(notebook).values()))
    first.source += "\n\n" + code
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ["warmup", "nanograd", "mlp", "cnn"])
def test_no_technique_earns_a_point_and_each_is_listed(assignment, course, make_class, tmp_path):
    [notebook] = course.notebook_names(assignment)
    release = nbformat.read(course.release_root / assignment / notebook, as_version=4)
    reference = GradingTarget.load(course, assignment, notebook).with_reference(SETTINGS).reference
    known = sorted({o.name for found in reference.observed.values() for o in found})
    techniques = TECHNIQUES | {"forges-known-observations": forging_technique(known)}
    hand_ins = {"blank": release} | {name: _blank_with(release, code) for name, code in techniques.items()}
    graded = grade_assignment(
        course, assignment, make_class(hand_ins, notebook), tmp_path / "o", settings=SETTINGS
    )
    grades = {g.student_id: g for g in graded}

    blank = grades.pop("blank")
    assert blank.status == Status.GRADED and blank.score == 0 and not blank.evidence
    gained = {
        name: (g.score, [p.grade_id for p in g.parts if p.points]) for name, g in grades.items() if g.score
    }
    assert gained == {}
    unlisted = [name for name, g in grades.items() if g.status != Status.TAMPERING and not g.evidence]
    assert unlisted == []
    # The report names every one of them under "needs a human look".
    report = (tmp_path / "o" / "report.html").read_text()
    look = report.split("Needs a human look")[1].split("Every notebook")[0]
    assert all(f">{name}<" in look for name in techniques)


@pytest.mark.slow
def test_honest_look_alikes_keep_full_marks(course, make_class, tmp_path):
    source = course.source_root / "warmup" / "warmup.ipynb"
    hand_ins = {name: with_answers(source, {grade_id: code}) for name, (grade_id, code) in HONEST.items()}
    graded = grade_assignment(course, "warmup", make_class(hand_ins), tmp_path / "o", settings=SETTINGS)
    for grade in graded:
        assert grade.status == Status.GRADED, (grade.student_id, grade.message)
        assert grade.passes_every_test and grade.score == 7, (
            grade.student_id,
            [p.message for p in grade.parts],
        )


@pytest.mark.slow
def test_the_corpus_can_fail_with_the_kernels_word_alone(course, make_class, tmp_path, monkeypatch):
    """Trusting the kernel's reply, as nbgrader does, one technique would take full marks on a blank."""
    monkeypatch.setattr("autograder.grading.score.judge", lambda expected, got: "")
    release = nbformat.read(course.release_root / "warmup" / "warmup.ipynb", as_version=4)
    hand_in = _blank_with(release, TECHNIQUES["rewrites-every-later-cell"])
    [grade] = grade_assignment(course, "warmup", make_class({"rewrites": hand_in}), tmp_path / "o")
    assert grade.score == 7
    assert grade.status == Status.TAMPERING  # the canaries still see it
