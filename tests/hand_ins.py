"""Hand-ins made from an assignment's source notebook, and the check each assignment's test makes.

An assignment's test names an alternative correct solution (answer grade_id -> code) and typical
mistakes (an edit of one answer cell, the parts it must lose, and a phrase the feedback of each lost
part must contain); `check_grading` grades them all in one batch, as a teacher grades a class.

Mistakes that edit different answer cells and lose disjoint parts share one hand-in: each notebook
that trains a network costs seconds, and a class of eighteen one-mistake hand-ins would grade the same
correct cells eighteen times. A part a mistake must lose depends on the cell it edits (else it would not
fail), so in a shared hand-in each failed part still names the mistake that caused it.
"""

from pathlib import Path
from typing import NamedTuple

import nbformat

from autograder.core.cells import is_answer, is_manually_graded, nbgrader_meta
from autograder.grade import grade_assignment


class Mistake(NamedTuple):
    answer: str
    """grade_id of the answer cell the mistake edits."""
    old: str
    new: str
    lost: dict[str, str]
    """Each part the mistake must lose -> a phrase its feedback must contain."""
    start: str | None = None
    """Code to make the edit in instead of the source's solution (a loop-based variant, say)."""


def answer_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The autograded answer cells (written answers, which a TA grades, left out)."""
    return {
        nbgrader_meta(c)["grade_id"]: c for c in notebook.cells if is_answer(c) and not is_manually_graded(c)
    }


def with_answers(source: Path, replacements: dict[str, str]) -> nbformat.NotebookNode:
    """The source notebook with the answer cells named in `replacements` (grade_id -> code) replaced."""
    notebook = nbformat.read(source, as_version=4)
    answers = answer_cells(notebook)
    for grade_id, code in replacements.items():
        answers[grade_id].source = code.strip("\n")
    return notebook


def packed(mistakes: dict[str, Mistake]) -> list[dict[str, Mistake]]:
    """The mistakes in groups, each group one hand-in: no two edit the same cell or lose the same part."""
    groups: list[dict[str, Mistake]] = []
    for name, mistake in mistakes.items():
        fits = (
            group
            for group in groups
            if all(
                mistake.answer != other.answer and not mistake.lost.keys() & other.lost.keys()
                for other in group.values()
            )
        )
        group = next(fits, None)
        if group is None:
            groups.append(group := {})
        group[name] = mistake
    return groups


def with_mistakes(source: Path, mistakes: dict[str, Mistake]) -> nbformat.NotebookNode:
    """The source notebook with every mistake of a group made, each in its own answer cell."""
    answers = answer_cells(nbformat.read(source, as_version=4))
    replacements = {}
    for mistake in mistakes.values():
        code = mistake.start or answers[mistake.answer].source
        assert mistake.old in code, (
            f"the mistake's anchor {mistake.old!r} is not in the {mistake.answer} code"
        )
        replacements[mistake.answer] = code.replace(mistake.old, mistake.new)
    return with_answers(source, replacements)


def check_grading(course, make_class, out: Path, assignment: str, alternative: dict, mistakes: dict) -> None:
    """The alternative scores full marks; each mistake loses exactly its parts.

    The solution itself is graded once, by tests/test_assignments.py (never twice in one run).
    """
    [notebook] = course.notebook_names(assignment)
    source = course.source_root / assignment / notebook
    assert set(alternative) == set(answer_cells(nbformat.read(source, as_version=4))), (
        "alternative is incomplete"
    )
    groups = {"__".join(group): group for group in packed(mistakes)}
    hand_ins = {"alternative": with_answers(source, alternative)}
    hand_ins |= {student: with_mistakes(source, group) for student, group in groups.items()}
    grades = {
        g.student_id: g for g in grade_assignment(course, assignment, make_class(hand_ins, notebook), out)
    }

    alternative_grade = grades["alternative"]
    assert alternative_grade.status == "graded", alternative_grade.message
    assert alternative_grade.passes_every_test, [
        (p.grade_id, p.message) for p in alternative_grade.tests if p.message
    ]
    for student, group in groups.items():
        grade = grades[student]
        assert grade.status == "graded", f"{student}: {grade.message}"
        failed = {p.grade_id: p.message for p in grade.tests if p.points < p.max_points}
        expected = {part for mistake in group.values() for part in mistake.lost}
        assert set(failed) == expected, f"{student} lost {sorted(failed)}, expected {sorted(expected)}"
        for name, mistake in group.items():
            for part, phrase in mistake.lost.items():
                assert phrase in failed[part], (
                    f"{name}: the feedback of {part} should say {phrase!r}: {failed[part]}"
                )
