"""Find what each student handed in and read it without ever changing it.

A submissions folder holds one folder per student, named by the student id, with the assignment's
notebooks inside: `<submissions>/<student_id>/<notebook>.ipynb`.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.core.course import is_visible
from autograder.core.errors import CourseError
from autograder.core.model import Status


@dataclass(frozen=True)
class Submission:
    """One student's copy of one notebook; `path` is None when there is none to grade."""

    student_id: str
    notebook: str
    path: Path | None
    problem: str = ""
    """Why there is nothing to grade: `missing` or `ambiguous`; empty when `path` is set."""
    message: str = ""
    notes: tuple[str, ...] = ()
    """What the student should know about how their files were read (a renamed notebook...)."""


class UnreadableNotebook(Exception):
    """The file is not a notebook we can grade; the message says why, for the student."""


def find_submissions(
    folder: Path, notebook_names: list[str], picks: Mapping[str, str] | None = None
) -> list[Submission]:
    """One Submission per student folder and expected notebook, sorted by student id.

    A notebook under another name (`warmup (1).ipynb`, as browsers save a second download) is
    graded when it is the only candidate; with several candidates nothing is guessed, unless the
    teacher picked one: `picks` maps a student id to the file to grade as the missing notebook.
    """
    picks = picks or {}
    if not folder.is_dir():
        raise CourseError(f"submissions folder {folder} does not exist or is not a folder")
    students = sorted(p for p in folder.iterdir() if p.is_dir() and is_visible(p))
    check_layout(folder, students, notebook_names)
    found = []
    for student in students:
        files = sorted(p for p in student.iterdir() if p.is_file() and is_visible(p))
        spare = [p for p in files if p.suffix == ".ipynb" and p.name not in notebook_names]
        absent = [name for name in notebook_names if not (student / name).is_file()]
        for name in notebook_names:
            if student.name in picks and absent == [name]:
                found.append(_picked(student, name, picks[student.name], spare))
            else:
                found.append(_pick(student, name, files, spare if absent == [name] else []))
    unknown = sorted(set(picks) - {student.name for student in students})
    if unknown:
        raise CourseError(f"--pick {unknown[0]}=...: there is no student {unknown[0]!r} in {folder}")
    return found


def _picked(student: Path, name: str, file: str, spare: list[Path]) -> Submission:
    """The file the teacher chose to grade as `name` among a student's notebooks."""
    chosen = student / file
    if chosen not in spare:
        listed = ", ".join(p.name for p in spare) or "no other notebook"
        raise CourseError(
            f"--pick {student.name}={file}: {student.name} handed in {listed} (earlier picks are kept in"
            f" {PICKS_FILE} in the --out folder)"
        )
    note = f"graded {file!r} as {name}: your teacher chose it among the notebooks you handed in"
    return Submission(student.name, name, chosen, notes=(note,))


def check_layout(folder: Path, students: list[Path], notebook_names: list[str]) -> None:
    """CourseError, saying what was found and what is expected, for a folder that is not one of hand-ins.

    An empty folder, a flat folder of notebooks, or the folder above the hand-ins would otherwise
    give an empty grade file, or every student a 0 for a notebook that is there one level down.
    """
    expected = f"expected {folder}/<student_id>/{notebook_names[0]}"
    if not students:
        loose = sorted(p.name for p in folder.glob("*.ipynb") if is_visible(p))
        if set(loose) & set(notebook_names):
            raise CourseError(
                f"{folder} looks like one student's folder: grade the class's folder with"
                f" --student {folder.name} ({expected})"
            )
        if loose:
            shown = ", ".join(loose[:3]) + (", ..." if len(loose) > 3 else "")
            raise CourseError(
                f"{folder} holds notebooks ({shown}) but no student folders: put each student's notebook"
                f" in a folder named by their id ({expected})"
            )
        raise CourseError(f"{folder} holds no student folders ({expected})")
    if any(_notebooks_in(student) for student in students):
        return
    deeper = [
        student.name for student in students if any(_notebooks_in(p) for p in student.iterdir() if p.is_dir())
    ]
    if deeper:
        shown = ", ".join(deeper[:3]) + (", ..." if len(deeper) > 3 else "")
        raise CourseError(
            f"no student folder in {folder} holds a notebook, but {shown} holds folders that do:"
            f" grade that folder instead ({folder / deeper[0]})"
        )


def _notebooks_in(folder: Path) -> bool:
    return any(p.suffix == ".ipynb" and p.is_file() and is_visible(p) for p in folder.iterdir())


def _pick(student: Path, name: str, files: list[Path], spare: list[Path]) -> Submission:
    """The file to grade as `name` in a student's folder, or why there is none."""
    if (student / name).is_file():
        ignored = tuple(f"also handed in, not graded: {p.name}" for p in spare)
        return Submission(student.name, name, student / name, notes=ignored)
    if len(spare) == 1:
        note = f"graded {spare[0].name!r} as {name} (the file had another name)"
        return Submission(student.name, name, spare[0], notes=(note,))
    if spare:
        listed = ", ".join(p.name for p in spare)
        message = f"several notebooks handed in ({listed}) and none named {name}, so none was graded"
        return Submission(student.name, name, None, Status.AMBIGUOUS, message)
    others = f" (found: {', '.join(p.name for p in files)})" if files else ""
    return Submission(student.name, name, None, Status.MISSING, f"no {name} was handed in{others}")


PICKS_FILE = "picks.json"
"""The teacher's --pick choices, kept in the output folder so that a re-run does not undo them."""


def saved_picks(out_dir: Path) -> dict[str, str]:
    """The picks that earlier runs into `out_dir` were given."""
    path = out_dir / PICKS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def save_picks(out_dir: Path, picks: Mapping[str, str]) -> None:
    """Keep `picks` for the next run into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / PICKS_FILE).write_text(
        json.dumps(dict(picks), indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def read_notebook(path: Path) -> NotebookNode:
    """Read a student's notebook as nbformat 4, or raise UnreadableNotebook with a clear reason."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableNotebook("the file is not UTF-8 text, so it is not a notebook") from error
    except OSError as error:
        raise UnreadableNotebook(f"the file cannot be read ({error.strerror})") from error
    if not text.strip():
        raise UnreadableNotebook("the file is empty")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableNotebook(
            f"the file is not valid notebook JSON ({error.msg} at line {error.lineno})"
        ) from error
    except RecursionError as error:
        raise UnreadableNotebook("the file's JSON is nested too deeply to be a notebook") from error
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise UnreadableNotebook("the file is JSON but not a Jupyter notebook")
    if _SURROGATE_ESCAPE.search(text):  # `\ud800` alone: no page or database could store it
        text = json.dumps(raw, ensure_ascii=False).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several kinds for damaged notebooks
        raise UnreadableNotebook(f"the notebook is damaged: {error}") from error
