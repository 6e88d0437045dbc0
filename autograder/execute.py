"""Execute: run the notebook that is graded in a fresh Jupyter kernel, cell by cell.

Errors in cells do not stop the run (a failing part must not cost the student the other parts);
a cell that runs too long is interrupted and the run goes on with the next cell.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from traitlets.config import Config

from autograder.config import KERNEL_NAME, GradingSettings

INTERRUPTED = "KeyboardInterrupt"
"""The error a cell shows when it was stopped for running past the cell time limit."""


@dataclass
class Execution:
    """An executed notebook with how its run ended."""

    notebook: NotebookNode
    status: str
    """`graded` when every cell ran to its end, else `timeout` or `kernel-died`."""
    message: str
    seconds: float


def execute(notebook: NotebookNode, workdir: Path, settings: GradingSettings) -> Execution:
    """Run `notebook` (modified in place) with `workdir` as the kernel's working directory."""
    # The kernel talks to us over Unix sockets in the scratch folder rather than TCP ports: no port
    # is opened on the machine and no other local user can connect to a student's kernel.
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(workdir / ".kernel")
    client = NotebookClient(
        notebook,
        config=config,
        kernel_name=KERNEL_NAME,
        timeout=settings.cell_timeout,
        startup_timeout=settings.startup_timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.monotonic()
    status, message = "graded", ""
    try:
        client.execute()
    except DeadKernelError:
        status, message = "kernel-died", "the Python kernel died while running the notebook"
    if status == "graded" and any(_was_interrupted(cell) for cell in notebook.cells):
        status = "timeout"
        message = f"a cell ran longer than {settings.cell_timeout:g} s and was stopped"
    return Execution(notebook, status, message, time.monotonic() - start)


def _was_interrupted(cell: NotebookNode) -> bool:
    return any(
        out.get("output_type") == "error" and out.get("ename") == INTERRUPTED
        for out in cell.get("outputs", [])
    )
