"""Questions: the written parts of an assignment as TAs grade them, one question across all students.

A question is a manually graded answer or task of a notebook: the text that asks it (from the
release), its mark scheme and model answer (from the source, for TAs only) and the students'
answers (kept in the gradebook at grading time). Answers come in a fixed order that says nothing
about who wrote them (`blind_order`), so grading is blind by default.
"""

import csv
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from autograder.core.cells import (
    is_answer,
    is_manually_graded,
    is_task,
    mark_scheme,
    nbgrader_meta,
    points_of,
)
from autograder.core.course import Course
from autograder.core.errors import CourseError
from autograder.core.model import ManualScore, NotebookGrade, PartKind, PartResult
from autograder.outputs.gradebook import Gradebook
from autograder.outputs.manual_scores import answer_digest


@dataclass(frozen=True)
class Question:
    """One written question of a notebook, with what its graders need beside the answers."""

    notebook: str
    grade_id: str
    kind: PartKind
    max_points: float
    prompt: str
    """Markdown: the task's text, or the text above the answer cell, as the students got it."""
    mark_scheme: str
    model_answer: str
    """The source's answer without its mark scheme; empty for a task."""
    is_code: bool = False
    """An answer written in a code cell (shown as code), not in markdown."""


@dataclass(frozen=True)
class Answer:
    """One student's answer to a question, with its stored grade (None: not graded yet)."""

    student_id: str
    part: PartResult
    score: ManualScore | None


def questions(course: Course, assignment: str) -> list[Question]:
    """Every written question of `assignment`, notebook by notebook, in the notebooks' order."""
    found = []
    for notebook in course.notebook_names(assignment):
        source = nbformat.read(course.source_root / assignment / notebook, as_version=4)
        released = nbformat.read(course.release_root / assignment / notebook, as_version=4)
        texts = {nbgrader_meta(c).get("grade_id"): c.source for c in released.cells}
        above = ""
        for cell in source.cells:
            grade_id = nbgrader_meta(cell).get("grade_id", "")
            if is_manually_graded(cell):
                task = is_task(cell)
                found.append(
                    Question(
                        notebook=notebook,
                        grade_id=grade_id,
                        kind=PartKind.TASK if task else PartKind.ANSWER,
                        max_points=points_of(cell),
                        prompt=texts.get(grade_id, "") if task else above,
                        mark_scheme=mark_scheme(cell),
                        model_answer="" if task else _without_mark_scheme(cell.source),
                        is_code=cell.cell_type == "code" and not task,
                    )
                )
            if cell.cell_type == "markdown" and not is_answer(cell):
                above = texts.get(grade_id, cell.source)
    return found


def _without_mark_scheme(text: str) -> str:
    kept, inside = [], False
    for line in text.split("\n"):
        if "BEGIN MARK SCHEME" in line:
            inside = True
        elif "END MARK SCHEME" in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept).strip()


def blind_order(grade_id: str, student_id: str) -> str:
    """A sort key that mixes the students up, the same way on every TA's machine, per question."""
    return hashlib.sha256(f"{grade_id}\0{student_id}".encode()).hexdigest()


def answers_to(question: Question, grades: list[NotebookGrade], scores: list[ManualScore]) -> list[Answer]:
    """The answers to `question` a person has to grade (unanswered ones scored 0 already), blind order."""
    stored = {(s.student_id, s.notebook, s.grade_id): s for s in scores}
    found = []
    for grade in grades:
        if grade.notebook != question.notebook:
            continue
        part = next((p for p in grade.parts if p.grade_id == question.grade_id and p.is_manual), None)
        if part is not None and (part.answer or part.pending):
            score = stored.get((grade.student_id, grade.notebook, question.grade_id))
            found.append(Answer(grade.student_id, part, score))
    return sorted(found, key=lambda a: blind_order(question.grade_id, a.student_id))


IMPORT_COLUMNS = ("student_id", "question", "points")
"""The columns a scores file for `import_scores` must have; `notebook`, `comment`, `grader` are optional."""


def import_scores(gradebook: Gradebook, course: Course, assignment: str, path: Path) -> int:
    """Store the TA scores of a CSV file (graded elsewhere: on paper, in a spreadsheet); return how many.

    Each row gives `points` for one student's written `question`, as the adjustment of a grade with
    no rubric items; a score already stored is replaced. Any row that names an unknown student or
    question, or points out of range, is a CourseError naming its line, and nothing is stored.
    """
    known = {q.grade_id: q for q in questions(course, assignment)}
    grades = {(g.student_id, g.notebook): g for g in gradebook.grades_of(assignment)}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = [c for c in IMPORT_COLUMNS if rows and c not in rows[0]] or ([] if rows else ["any row"])
    if missing:
        raise CourseError(f"{path}: no column {missing[0]!r}; it needs {', '.join(IMPORT_COLUMNS)}")
    planned = []
    for line, row in enumerate(rows, 2):
        question = known.get(row["question"])
        if question is None:
            raise CourseError(
                f"{path}, line {line}: {assignment} has no written question {row['question']!r}"
                f" (it has: {', '.join(known) or 'none'})"
            )
        grade = grades.get((row["student_id"], row.get("notebook") or question.notebook))
        if grade is None:
            raise CourseError(f"{path}, line {line}: no grade of student {row['student_id']!r}; grade first")
        try:
            points = float(row["points"])
        except ValueError:
            raise CourseError(f"{path}, line {line}: points {row['points']!r} is not a number") from None
        if not 0 <= points <= question.max_points:
            raise CourseError(f"{path}, line {line}: points {points:g} outside 0..{question.max_points:g}")
        part = next(p for p in grade.parts if p.grade_id == question.grade_id)
        planned.append((grade, question, points, row, part))
    for grade, question, points, row, part in planned:
        current = gradebook.manual_score(assignment, grade.student_id, grade.notebook, question.grade_id)
        base = current or ManualScore(assignment, grade.student_id, grade.notebook, question.grade_id)
        gradebook.save_manual_score(
            replace(
                base,
                items=(),
                adjustment=points,
                comment=row.get("comment") or "",
                grader=row.get("grader") or "imported",
                answer_digest=answer_digest(part.answer),
            )
        )
    return len(planned)
