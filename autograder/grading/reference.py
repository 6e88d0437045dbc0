"""Reference: what the solution observed in each test cell, recorded once per version of an assignment.

Before the first student of an assignment is graded, its source notebook (the solutions) is graded
like a hand-in, in the same sandbox, and every observation of every test cell is kept. The verdict
on each student's test cell is the comparison with these (see `verdict`). The record is cached as
JSON under the cache folder, named by the fingerprint of the source notebook, its data files, the
grading code and the device, so a class, and every later run on the same version, pays for it once.
"""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from autograder.core.cells import cell_outcome, is_test, nbgrader_meta
from autograder.core.errors import CourseError
from autograder.grading.observation import BadObservation, Observation, decode, encode, observations
from autograder.grading.score import failure_message
from autograder.grading.verdict import check_problems

FORMAT = 1
"""Version of the cached file's layout."""


@dataclass(frozen=True)
class Reference:
    """The observations of the solution's run, by test cell (grade_id), in the order they were made."""

    observed: dict[str, list[Observation]]

    def unobserved(self) -> list[str]:
        """Test cells that observe nothing: graded by the kernel's word alone, a fault of the assignment."""
        return [grade_id for grade_id, found in self.observed.items() if not found]

    @classmethod
    def record(cls, executed: NotebookNode, where: str) -> "Reference":
        """The reference of an executed source notebook; a CourseError if the solution fails its tests.

        `where` names the notebook in messages (assignment/notebook).
        """
        observed, problems = {}, []
        for cell in executed.cells:
            if not is_test(cell):
                continue
            grade_id = nbgrader_meta(cell)["grade_id"]
            if cell_outcome(cell).get("status") != "ok":
                problems.append(f"its test '{grade_id}' fails on the solution: {failure_message(cell)}")
            found = observations(cell)
            problems += [f"test '{grade_id}': {p}" for p in check_problems(found)]
            observed[grade_id] = found
        if problems:
            raise CourseError(
                f"{where}: the source notebook cannot serve as the reference: "
                + "; ".join(problems)
                + ". Fix the solution or the test, then grade again."
            )
        return cls(observed)

    def to_json(self) -> str:
        cells = {
            grade_id: [{"name": o.name, "value": encode(o.value), "check": encode(o.check)} for o in found]
            for grade_id, found in self.observed.items()
        }
        return json.dumps({"format": FORMAT, "cells": cells})

    @classmethod
    def from_json(cls, text: str) -> "Reference":
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError("another format")
        return cls({grade_id: [decode(o) for o in found] for grade_id, found in data["cells"].items()})


def load(path: Path) -> Reference | None:
    """The cached reference at `path`, or None when there is none (or it cannot be read)."""
    try:
        return Reference.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, BadObservation):
        return None


def save(path: Path, reference: Reference) -> None:
    """Write the reference to `path` in one step, so that a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(reference.to_json())
    os.replace(temporary, path)


def default_cache() -> Path:
    """Where references are cached unless the settings say otherwise: the user's cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "autograder" / "references"
