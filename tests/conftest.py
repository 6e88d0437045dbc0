"""Shared fixtures: the repository as a course, and a way to lay out a class of hand-ins."""

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def course() -> Course:
    return Course(REPO)


@pytest.fixture
def make_class(tmp_path):
    """Write {student_id: notebook node, path or bytes} as a submissions folder; return its path."""

    def make(hand_ins: dict, notebook: str = "warmup.ipynb") -> Path:
        folder = tmp_path / "submissions"
        for student, content in hand_ins.items():
            target = folder / student / notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copy(content, target)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                nbformat.write(content, target)
        return folder

    return make
