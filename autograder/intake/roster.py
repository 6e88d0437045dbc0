"""Roster: who each student is in the LMS, kept beside the unpacked submissions as `students.csv`.

Unpacking an LMS download (see `lms`) writes it; the grade exports read it, since Canvas's and
Moodle's grade imports match rows by the LMS's own user id and name, not by our student id.
A plain submissions folder has no roster, and every field but `student_id` is then empty.
Each grading run merges its roster into the output folder's, which the exports read: regrading one
student, or exporting from the gradebook alone, keeps every student's identity.
"""

import csv
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path

from autograder.core.model import Student

ROSTER_FILE = "students.csv"
"""File name of the roster inside a submissions folder (a file, so never mistaken for a student)."""


def read_roster(folder: Path) -> dict[str, Student]:
    """The roster of a submissions folder by student id; empty when it has none."""
    path = folder / ROSTER_FILE
    if not path.is_file():
        return {}
    names = {f.name for f in fields(Student)}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [{k: v for k, v in row.items() if k in names} for row in csv.DictReader(handle)]
    return {row["student_id"]: Student(**row) for row in rows if row.get("student_id")}


def write_roster(folder: Path, students: Iterable[Student]) -> None:
    """Write `students` as the roster of `folder`, sorted by student id."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ROSTER_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [f.name for f in fields(Student)], lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(s) for s in sorted(students, key=lambda s: s.student_id))


def merge_roster(folder: Path, students: dict[str, Student]) -> None:
    """Add `students` to the roster of `folder`, replacing the entries of the same student ids."""
    if students:
        write_roster(folder, {**read_roster(folder), **students}.values())
