"""Colab and JupyterHub parity: do the released notebooks run where the students run them?

Colab preinstalls numpy, torch, matplotlib, scikit-learn and ipywidgets 7.7.1 (and ipykernel, the kernel
that runs a notebook), but neither nbgrader, hypothesis nor this repository's `autograder`. These tests
build such an environment once, a virtual environment cached in `_build/colab-venv/` and pinned by
`constraints.txt` (except for ipywidgets, which is Colab's version), and run every released notebook in a
kernel of it, in a scratch folder with the assignment's files: with the solution pasted into the answer
cells it must run top to bottom without an error, and blank, every visible test must fail with a message a
student can act on. Every chapter of the book must run top to bottom there too, and its widgets must work.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

from autograder.core.cells import is_answer, is_test, nbgrader_meta
from autograder.core.course import Course

COLAB_IPYWIDGETS = "7.7.1"
"""The ipywidgets Colab preinstalls; it does not support 8 (googlecolab/colabtools#4525)."""

COLAB_PACKAGES = [
    "numpy",
    "torch==2.13.0",
    "matplotlib",
    "scikit-learn",
    f"ipywidgets=={COLAB_IPYWIDGETS}",
    "ipykernel",
]
"""What the fresh environment gets: the course's share of Colab's preinstalled packages, nothing else."""

NOT_CONSTRAINED = {"ipywidgets", "widgetsnbextension"}
"""Pins of constraints.txt the Colab venv drops: our ipywidgets 8 and its notebook extension (7.7.1 needs
widgetsnbextension 3.6)."""

ABSENT = ["nbgrader", "autograder", "hypothesis"]
"""Modules a student's Colab or JupyterHub kernel may lack; the released notebooks must not need them."""

PRESENT = ["numpy", "torch", "matplotlib", "sklearn", "ipywidgets"]

VENV = REPO / "_build" / "colab-venv"
KERNEL = "colab-parity"
CELL_TIMEOUT = 300
"""Seconds per cell; the longest cell (training the CNN) takes about a minute on a 2-core machine."""

INFRASTRUCTURE_ERRORS = {"ModuleNotFoundError", "ImportError", "NameError", "SyntaxError", "IndentationError"}
"""Errors of a given cell that say the notebook itself is broken, not that an answer is still missing."""

ASSIGNMENTS = Course(REPO).assignments()
BOOK = REPO / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class ColabEnv:
    python: Path
    kernel_dirs: Path


def env_key() -> str:
    """Changes whenever the environment would come out different: the packages, the pins, the Python."""
    key = hashlib.sha256()
    key.update("\n".join([*COLAB_PACKAGES, sys.version, sys._base_executable]).encode())
    key.update(colab_constraints().encode())
    return key.hexdigest()


def colab_constraints() -> str:
    """constraints.txt without the pins in NOT_CONSTRAINED, which Colab's versions replace."""
    lines = (REPO / "constraints.txt").read_text().splitlines()
    kept = [line for line in lines if line.split("==")[0].strip().lower() not in NOT_CONSTRAINED]
    return "\n".join(kept) + "\n"


def clean_env() -> dict[str, str]:
    """The environment variables for the fresh venv's processes, without this repository's venv in them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "MPLBACKEND"}
    }
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), env.get("PATH", "")])
    env["PIP_NO_INPUT"] = "1"
    return env


def build_venv() -> float:
    """Create VENV from scratch with COLAB_PACKAGES and the kernelspec KERNEL; return the seconds taken."""
    start = time.monotonic()
    shutil.rmtree(VENV, ignore_errors=True)
    python = str(VENV / "bin" / "python")
    constraints = VENV.parent / "colab-constraints.txt"
    constraints.write_text(colab_constraints())
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        # As the Makefile installs: pinned by constraints.txt, which keeps torch the CPU wheel. Without
        # compiling every module at install (saves about a minute); the kernels compile what they import.
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "-c",
            str(constraints),
            *COLAB_PACKAGES,
        ],
        [python, "-m", "ipykernel", "install", "--prefix", str(VENV), "--name", KERNEL],
    ]
    for step in steps:
        result = subprocess.run(step, cwd=VENV.parent, env=clean_env(), capture_output=True, text=True)
        assert result.returncode == 0, (
            f"{' '.join(step)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return time.monotonic() - start


@pytest.fixture(scope="session")
def colab_env() -> ColabEnv:
    """A virtual environment with only COLAB_PACKAGES, reused while env_key() is unchanged.

    Created from nothing it takes one to two minutes on a 2-core machine (installing from the pip cache
    and index); the stamp file `.colab-parity` in it holds the key and the seconds the last build took.
    """
    VENV.parent.mkdir(parents=True, exist_ok=True)
    stamp = VENV / ".colab-parity"
    with open(VENV.parent / "colab-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        key = env_key()
        fresh = stamp.is_file() and stamp.read_text().split("\n")[0] == key
        if not (fresh and (VENV / "bin" / "python").exists()):
            seconds = build_venv()
            stamp.write_text(f"{key}\nbuilt in {seconds:.0f} s\n")
    return ColabEnv(VENV / "bin" / "python", VENV / "share" / "jupyter" / "kernels")


def run_notebook(
    env: ColabEnv, notebook: NotebookNode, folder: Path, allow_errors: bool, timeout: int = CELL_TIMEOUT
) -> NotebookNode:
    """Execute `notebook` in place in a kernel of the fresh environment, with `folder` as working folder."""
    kernel_specs = KernelSpecManager(kernel_dirs=[str(env.kernel_dirs)])
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=timeout,
        startup_timeout=120,
        allow_errors=allow_errors,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],  # no history written to ~/.ipython
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute(env=clean_env())
    return notebook


def scratch_folder(assignment: str, tmp_path: Path) -> Path:
    """A copy of the released assignment's files other than its notebooks, as a student downloads them."""
    folder = tmp_path / assignment
    shutil.copytree(
        REPO / "assignments" / assignment,
        folder,
        ignore=shutil.ignore_patterns("*.ipynb", ".*", "__pycache__"),
    )
    return folder


def notebook_pairs(assignment: str) -> list[tuple[str, NotebookNode, NotebookNode]]:
    """(name, released notebook, source notebook) for each notebook of the assignment."""
    course = Course(REPO)
    return [
        (
            name,
            nbformat.read(course.release_root / assignment / name, as_version=4),
            nbformat.read(course.source_root / assignment / name, as_version=4),
        )
        for name in course.notebook_names(assignment)
    ]


def with_solution(release: NotebookNode, source: NotebookNode) -> NotebookNode:
    """The released notebook with each answer cell's source taken from the source notebook by grade_id."""
    solutions = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if is_answer(c)}
    released = [nbgrader_meta(c)["grade_id"] for c in release.cells if is_answer(c)]
    assert sorted(released) == sorted(solutions), "the release's answer cells differ from the source's"
    for cell in release.cells:
        if is_answer(cell):
            cell.source = solutions[nbgrader_meta(cell)["grade_id"]]
    return release


def error_of(cell: NotebookNode) -> tuple[str, str] | None:
    """(exception name, message) of the error an executed code cell raised, or None."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return output.ename, output.evalue
    return None


@pytest.mark.slow
def test_fresh_kernel_has_the_colab_packages_and_no_grading_tools(colab_env, tmp_path):
    """The kernel runs the fresh venv's Python, imports the Colab packages, and lacks nbgrader,
    autograder and hypothesis (a notebook that needs one of them would fail on Colab)."""
    probe = f"""
import importlib, json, sys
found = {{}}
for name in {ABSENT + PRESENT!r}:
    try:
        importlib.import_module(name)
        found[name] = "ok"
    except Exception as error:
        found[name] = type(error).__name__
import ipywidgets, torch
print(json.dumps({{"prefix": sys.prefix, "found": found, "torch": torch.__version__,
                  "ipywidgets": ipywidgets.__version__}}))
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    run_notebook(colab_env, notebook, tmp_path, allow_errors=False, timeout=120)
    report = json.loads("".join(o.text for o in notebook.cells[0].outputs if o.output_type == "stream"))
    assert Path(report["prefix"]).resolve() == VENV.resolve(), report["prefix"]
    assert report["found"] == {**dict.fromkeys(ABSENT, "ModuleNotFoundError"), **dict.fromkeys(PRESENT, "ok")}
    assert report["torch"].startswith("2.13.0"), report["torch"]
    assert report["ipywidgets"] == COLAB_IPYWIDGETS, report["ipywidgets"]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_with_the_solution_runs_top_to_bottom(colab_env, assignment, tmp_path):
    """The released notebook, with each answer cell replaced by the source's solution and the released
    (visible) tests as they are, runs without an error in the Colab-like kernel."""
    folder = scratch_folder(assignment, tmp_path)
    for name, release, source in notebook_pairs(assignment):
        notebook = with_solution(release, source)
        try:
            run_notebook(colab_env, notebook, folder, allow_errors=False)
        except Exception as error:  # CellExecutionError names the cell and the traceback
            plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the traceback without its colours
            pytest.fail(f"{assignment}/{name} with the solution fails in a Colab-like kernel:\n{plain}")
        ran = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
        assert all(c.get("execution_count") for c in ran), f"{assignment}/{name}: not every cell ran"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_fails_every_visible_test_helpfully(colab_env, assignment, tmp_path):
    """In the blank release every visible test cell fails, with the stub's NotImplementedError or an
    AssertionError that says what is wrong; none fails because the notebook itself is broken (a module
    missing on Colab, an undefined helper), and at least one test meets the stub's NotImplementedError."""
    folder = scratch_folder(assignment, tmp_path)
    for name, release, _ in notebook_pairs(assignment):
        run_notebook(colab_env, release, folder, allow_errors=True)
        given = [
            (nbgrader_meta(c).get("grade_id"), error_of(c))
            for c in release.cells
            if c.cell_type == "code" and not is_answer(c) and not is_test(c)
        ]
        broken = [(i, e) for i, e in given if e and e[0] in INFRASTRUCTURE_ERRORS]
        assert not broken, f"{assignment}/{name}: given cells fail in a Colab-like kernel: {broken}"
        errors = {nbgrader_meta(c)["grade_id"]: error_of(c) for c in release.cells if is_test(c)}
        assert errors, f"{assignment}/{name} has no visible test cell"
        passing = [grade_id for grade_id, error in errors.items() if error is None]
        assert not passing, f"{assignment}/{name}: these tests pass on the blank release: {passing}"
        unhelpful = {
            grade_id: (ename, evalue)
            for grade_id, (ename, evalue) in errors.items()
            if not (ename == "NotImplementedError" or (ename == "AssertionError" and evalue.strip()))
        }
        assert not unhelpful, f"{assignment}/{name}: tests fail without a helpful message: {unhelpful}"
        assert any(ename == "NotImplementedError" for ename, _ in errors.values()), errors


def chapter_folder(tmp_path: Path) -> Path:
    """A scratch folder with the book's helper module, as a student has it next to a chapter in Colab."""
    folder = tmp_path / "book"
    folder.mkdir()
    shutil.copy(BOOK / "widgets.py", folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_top_to_bottom_with_colabs_ipywidgets(colab_env, chapter, tmp_path):
    """Every cell of the chapter runs without an error in the Colab-like kernel (ipywidgets 7), and its
    widget cells display widgets there."""
    notebook = nbformat.read(chapter, as_version=4)
    try:
        run_notebook(colab_env, notebook, chapter_folder(tmp_path), allow_errors=False)
    except Exception as error:  # CellExecutionError names the cell and the traceback
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
        pytest.fail(f"{chapter.name} fails in a Colab-like kernel:\n{plain}")
    shown = [o for c in notebook.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert shown, f"{chapter.name} displays no widget in a Colab-like kernel"


@pytest.mark.slow
def test_widgets_switch_frames_in_a_kernel_with_colabs_ipywidgets(colab_env, tmp_path):
    """With ipywidgets 7 (no Stack, no jslink to it) moving a slider shows another frame: the kernel
    swaps it. The frames are told apart by their alt text."""
    probe = """
import json, re
import ipywidgets, matplotlib.pyplot as plt, widgets

def draw(*values):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, sum(values)])
    return fig

def shown(widget):
    # The alt text of the one frame a box shows, through boxes inside boxes.
    while not isinstance(widget, ipywidgets.HTML):
        (widget,) = widget.children
    return re.search('alt="([^"]*)"', widget.value).group(1)

seen = {"version": ipywidgets.__version__}
slider, frame = widgets.frames_slider(draw, [1, 2, 3], "k", alt=lambda k: f"slope {k}").children
seen["slider"] = [shown(frame)]
slider.value = "3"
seen["slider"].append(shown(frame))
slider.index = 1
seen["slider"].append(shown(frame))

rows, columns, grid = widgets.frames_grid(
    draw, [1, 2], [10, 20, 30], ("row", "column"), alt=lambda r, c: f"r{r} c{c}"
).children
seen["grid"] = [shown(grid)]
columns.value = "30"
seen["grid"].append(shown(grid))
rows.value = "2"
seen["grid"].append(shown(grid))
columns.index = 0
seen["grid"].append(shown(grid))

*sliders, cube = widgets.frames_sliders(
    draw, [[1, 2], [10, 20, 30], [100, 200]], ("a", "b", "c"), alt=lambda a, b, c: f"{a} {b} {c}"
).children
seen["sliders"] = [shown(cube)]
sliders[2].index = 1
seen["sliders"].append(shown(cube))
sliders[0].index = 1
seen["sliders"].append(shown(cube))
sliders[1].value = "30"
seen["sliders"].append(shown(cube))
print(json.dumps(seen))
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    run_notebook(colab_env, notebook, chapter_folder(tmp_path), allow_errors=False, timeout=120)
    seen = json.loads("".join(o.text for o in notebook.cells[0].outputs if o.output_type == "stream"))
    assert seen["version"] == COLAB_IPYWIDGETS
    assert seen["slider"] == ["slope 1", "slope 3", "slope 2"]
    assert seen["grid"] == ["r1 c10", "r1 c30", "r2 c30", "r2 c10"]
    assert seen["sliders"] == ["1 10 100", "1 10 200", "2 10 200", "2 30 200"]  # chapter 9's three sliders
