"""Export: the grades CSV, one row per student and assignment."""

import csv
from itertools import groupby
from pathlib import Path

from autograder.model import NotebookGrade

GRADES_HEADER = ["student_id", "assignment", "score", "max_score", "status"]


def write_grades_csv(path: Path, grades: list[NotebookGrade]) -> None:
    """Write `grades` summed over each student's notebooks; the status is the first that is not `graded`."""
    rows = []
    ordered = sorted(grades, key=lambda g: (g.student_id, g.assignment, g.notebook))
    for (student_id, assignment), group in groupby(ordered, key=lambda g: (g.student_id, g.assignment)):
        group = list(group)
        status = next((g.status for g in group if g.status != "graded"), "graded")
        score = sum(g.score for g in group)
        total = sum(g.max_score for g in group)
        rows.append([student_id, assignment, f"{score:g}", f"{total:g}", status])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(GRADES_HEADER)
        writer.writerows(rows)
