"""Shared fixtures: the repository as a course, a way to lay out a class of hand-ins, the built site."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.core.course import Course

REPO = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


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


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """Build the book with warnings as errors into a temporary folder; return its html/ folder.

    Session-scoped: test_book.py and test_chapter_facts.py read the same build (about a minute).
    """
    if not (REPO / "book" / "_vendor" / "require.js").exists():
        pytest.fail(
            "book/_vendor/ is missing: run `npm ci --no-audit --no-fund`, then `python book/vendor_js.py`"
        )
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            str(JUPYTER_BOOK),
            "build",
            str(REPO),
            "--builder",
            "html",
            "-W",
            "-n",
            "--keep-going",
            "--path-output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL server on loopback, shared by every test that needs one (see postgres.py)."""
    from postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def plt():
    """matplotlib's pyplot, drawing off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


@pytest.fixture(scope="session")
def widgets(plt):
    """The book's widget helpers (book/widgets.py), imported as the chapters import them."""
    sys.path.insert(0, str(REPO / "book"))
    try:
        import widgets
    finally:
        sys.path.remove(str(REPO / "book"))
    return widgets
