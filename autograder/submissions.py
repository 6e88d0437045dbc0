"""Find what each student handed in and read it without ever changing it.

A submissions folder holds one folder per student, named by the student id, with the assignment's
notebooks inside: `<submissions>/<student_id>/<notebook>.ipynb`.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.course import CourseError, _visible


@dataclass(frozen=True)
class Submission:
    """One student's copy of one notebook; `path` is None when the student handed none in."""

    student_id: str
    notebook: str
    path: Path | None


class UnreadableNotebook(Exception):
    """The file is not a notebook we can grade; the message says why, for the student."""


def find_submissions(folder: Path, notebook_names: list[str]) -> list[Submission]:
    """One Submission per student folder and expected notebook, sorted by student id."""
    if not folder.is_dir():
        raise CourseError(f"submissions folder {folder} does not exist or is not a folder")
    students = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))
    found = []
    for student in students:
        for name in notebook_names:
            path = student / name
            found.append(Submission(student.name, name, path if path.is_file() else None))
    return found


def read_notebook(path: Path) -> NotebookNode:
    """Read a student's notebook as nbformat 4, or raise UnreadableNotebook with a clear reason."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableNotebook("the file is not UTF-8 text, so it is not a notebook") from error
    if not text.strip():
        raise UnreadableNotebook("the file is empty")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableNotebook(
            f"the file is not valid notebook JSON ({error.msg} at line {error.lineno})"
        ) from error
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise UnreadableNotebook("the file is JSON but not a Jupyter notebook")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several kinds for damaged notebooks
        raise UnreadableNotebook(f"the notebook is damaged: {error}") from error
