"""Execute: run the notebook that is graded in a fresh Jupyter kernel, cell by cell.

Errors in cells do not stop the run (a failing part must not cost the student the other parts); a
cell that runs past its time limit is interrupted and the run goes on with the next cell; the whole
notebook has a time limit too, and the output it may print is capped. The kernel runs inside the
sandbox (see `sandbox`) unless the teacher turned it off, and is a fresh one for every notebook
(see `kernels`, which starts it ahead of time).

What the kernel sends is bounded: every message counts towards the output cap, whatever its type;
past it only what the run needs passes (status, the first error of each cell), and every error is
cut to a few lines. A kernel whose scratch folder grows past its limits is stopped.
"""

import asyncio
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Integer

from autograder.core.cells import cell_outcome, needs_gpu, record_outcome
from autograder.core.config import KERNEL_NAME, GradingSettings
from autograder.core.errors import CourseError
from autograder.core.model import Status
from autograder.grading.kernels import Kernel, Recipe, fresh_kernel, scratch_usage

INTERRUPTED = "KeyboardInterrupt"
"""The error a cell shows when it was stopped for running past the cell time limit."""


@dataclass
class Execution:
    """An executed notebook with how its run ended."""

    notebook: NotebookNode
    status: Status
    """`graded` when every cell ran to its end, else `timeout` or `kernel-died`."""
    message: str
    seconds: float


class KernelStartError(CourseError):
    """The kernel would not start: a problem of the grading machine, not of the student's notebook."""


class KernelUnresponsive(Exception):
    """A cell ran past its time limit and the kernel did not answer the interrupt."""


class GradingClient(NotebookClient):
    """nbclient's executor, with a cap on output and no waiting on a kernel that stopped answering."""

    max_output_bytes = Integer(10 * 1024**2).tag(config=True)
    interrupt_grace = Integer(10).tag(config=True)
    _output_bytes = 0  # received so far; one client runs one notebook
    _output_capped = False

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 (nbclient's)
        super().__init__(*args, **kwargs)
        self._cells_with_error: set[int] = set()

    async def _async_handle_timeout(self, timeout, cell=None):  # noqa: ANN001, ANN202 (nbclient's)
        # nbclient would wait for the interrupted cell for ever; move on if the kernel still answers,
        # and give up on the notebook if it does not (a hung or wrecked kernel).
        reply = await super()._async_handle_timeout(timeout, cell)
        if not await self._answers_within(self.interrupt_grace):
            raise KernelUnresponsive
        return reply

    async def _answers_within(self, seconds: float) -> bool:
        msg_id = self.kc.kernel_info()
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self.kc.shell_channel.get_msg(timeout=left)
            except Exception:  # queue.Empty: no answer in time
                return False
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    def process_message(self, msg, cell, cell_index):  # noqa: ANN001, ANN201 (nbclient's signature)
        kind = msg["msg_type"]
        self._output_bytes += len(str(msg["content"])) + sum(len(b) for b in msg.get("buffers") or ())
        if kind == "error":
            msg["content"] = shorten_error(msg["content"])
        if self._output_bytes > self.max_output_bytes and kind not in _ALWAYS:
            if kind != "error" or cell_index in self._cells_with_error:
                if not self._output_capped:
                    self._output_capped = True
                    limit = self.max_output_bytes // 1024**2
                    cell.outputs.append(_note(f"[output past {limit} MB dropped]"))
                return None
        if kind == "error":
            self._cells_with_error.add(cell_index)
        if kind not in _KNOWN and not kind.startswith("comm_"):
            return None
        try:
            return super().process_message(msg, cell, cell_index)
        except CellExecutionComplete:
            raise
        except (KeyError, TypeError, ValueError, AttributeError):  # a message not as jupyter's are
            cell.outputs.append(_note(f"[a {kind} message from the kernel that the grader cannot use]"))
            return None


_ALWAYS = frozenset({"status", "execute_input", "clear_output"})
"""Messages the run needs, which pass the output cap (they are small; the session bounds them anyway)."""

_KNOWN = frozenset({*_ALWAYS, "stream", "display_data", "execute_result", "update_display_data", "error"})

MAX_ERROR_TEXT = 2000
"""Longest error name, value or traceback line kept."""

MAX_TRACEBACK_LINES = 40
"""Traceback lines kept of each error: the first and the last half."""


def shorten_error(content: dict) -> dict:
    """An error's content with its name, value and traceback cut to `MAX_ERROR_TEXT` and `MAX_TRACEBACK_LINES`."""
    shortened = dict(content)
    for key in ("ename", "evalue"):
        shortened[key] = _cut(str(content.get(key, "")))
    traceback = content.get("traceback")
    lines = (
        [_cut(str(line)) for line in traceback[:MAX_TRACEBACK_LINES]] if isinstance(traceback, list) else []
    )
    if isinstance(traceback, list) and len(traceback) > MAX_TRACEBACK_LINES:
        half = MAX_TRACEBACK_LINES // 2
        dropped = len(traceback) - MAX_TRACEBACK_LINES
        tail = [_cut(str(line)) for line in traceback[-half:]]
        lines = [*lines[:half], f"[{dropped} lines of the traceback dropped]", *tail]
    shortened["traceback"] = lines
    return shortened


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + f"... [{len(text)} characters]"


def _note(text: str) -> NotebookNode:
    return new_output("stream", name="stderr", text=text + "\n")


def execute(
    notebook: NotebookNode,
    settings: GradingSettings,
    data_folder: Path | None = None,
    data_files: tuple[Path, ...] = (),
    start_spare: bool = False,
) -> Execution:
    """Run `notebook` (modified in place) in a fresh kernel whose scratch folder holds `data_files`.

    The files are copied from `data_folder`, where their paths are relative to. With `start_spare`,
    the kernel for this process's next notebook starts while this one runs (see `kernels`).
    """
    gpu = settings.gpus > 0 and needs_gpu(notebook)
    recipe = Recipe(
        data_folder, tuple(data_files), settings.sandbox, gpu, settings.limits, settings.kernel_threads
    )
    with asyncio.Runner(loop_factory=_LoopWithoutSignals) as runner:
        try:
            return runner.run(_execute(notebook, settings, recipe, start_spare))
        except KeyboardInterrupt:  # the grader's stop (see `interrupt`): nothing of this run counts,
            # so the errors its tasks end with as the kernel goes are not worth a traceback.
            runner.get_loop().set_exception_handler(lambda loop, context: None)
            raise


class _LoopWithoutSignals(asyncio.SelectorEventLoop):
    """An event loop that takes no signal handlers: Ctrl-C and SIGTERM are the grader's (`interrupt`).

    nbclient would otherwise answer them by killing the kernel, which records the student as
    `kernel-died` while the run goes on, and then reset SIGINT to Python's default. It expects the
    RuntimeError an event loop outside the main thread raises, and goes without.
    """

    def add_signal_handler(self, sig: int, callback: object, *args: object) -> None:
        raise RuntimeError("signals are handled by the grader")

    def remove_signal_handler(self, sig: int) -> bool:
        raise RuntimeError("signals are handled by the grader")


async def _execute(
    notebook: NotebookNode, settings: GradingSettings, recipe: Recipe, start_spare: bool
) -> Execution:
    start = time.monotonic()
    status, message = Status.GRADED, ""
    kernel = None
    client = None
    try:
        kernel = await fresh_kernel(recipe, start_spare)
        client = GradingClient(
            notebook,
            km=kernel.manager,
            timeout=settings.cell_timeout,
            startup_timeout=settings.startup_timeout,
            interrupt_on_timeout=True,
            allow_errors=True,
            record_timing=False,
            resources={"metadata": {"path": str(kernel.workdir)}},
            on_cell_executed=_record_reply,
            error_on_timeout={"ename": INTERRUPTED, "evalue": f"stopped after {settings.cell_timeout:g} s"},
        )
        watch = asyncio.ensure_future(_watch_scratch(kernel))
        try:
            await asyncio.wait_for(client.async_execute(), settings.notebook_timeout)
        finally:
            watch.cancel()
        if _over_limits(kernel):
            raise DeadKernelError("its scratch folder is past the limits")
    except TimeoutError:
        status = Status.TIMEOUT
        message = f"the notebook ran longer than {settings.notebook_timeout:g} s and was stopped"
    except KernelUnresponsive:
        status = Status.TIMEOUT
        message = f"a cell ran longer than {settings.cell_timeout:g} s and the kernel stopped responding"
    except DeadKernelError:
        status, message = Status.KERNEL_DIED, _why_it_died(kernel)
    except RuntimeError as error:  # nbclient's way of saying the kernel never answered
        raise KernelStartError(
            f"the Jupyter kernel did not start ({error}); check that `{KERNEL_NAME}` runs in the sandbox,"
            " or grade with --unsafe-no-sandbox to see whether the sandbox is the cause"
        ) from error
    finally:
        # nbclient leaves a kernel it did not start running; this one served its only notebook.
        if client is not None and client.kc is not None:
            client.kc.stop_channels()
        if kernel is not None:
            await kernel.close()
    if status == Status.GRADED and any(
        cell_outcome(cell).get("ename") == INTERRUPTED for cell in notebook.cells
    ):
        status = Status.TIMEOUT
        message = f"a cell ran longer than {settings.cell_timeout:g} s and was stopped"
    return Execution(notebook, status, message, time.monotonic() - start)


SCRATCH_CHECK_SECONDS = 0.5
"""How often the kernel's scratch folder is measured while its notebook runs."""


async def _watch_scratch(kernel: Kernel) -> None:
    """Stop the kernel as soon as its scratch folder holds more than the limits allow."""
    while True:
        await asyncio.sleep(SCRATCH_CHECK_SECONDS)
        if await asyncio.to_thread(_over_limits, kernel):
            await kernel.manager.signal_kernel(signal.SIGKILL)  # nbclient then sees a dead kernel
            return


def _over_limits(kernel: Kernel) -> bool:
    limits = kernel.limits
    used, entries = scratch_usage(kernel.workdir, limits.scratch_files)
    kernel.scratch_full = kernel.scratch_full or used > limits.scratch_bytes or entries > limits.scratch_files
    return kernel.scratch_full


def _why_it_died(kernel: Kernel | None) -> str:
    if kernel is None:
        return "the Python kernel died while running the notebook"
    limits = kernel.limits
    if kernel.scratch_full:
        return (
            f"the notebook wrote more than {limits.scratch_bytes / 1024**3:g} GiB or"
            f" {limits.scratch_files:,} files and folders into its folder, and its kernel was stopped"
        )
    if kernel.ran_out_of_memory():
        return (
            f"the Python kernel was stopped: it used more than its {limits.cgroup_bytes / 1024**3:g} GiB"
            " of memory (its /tmp and /dev/shm included)"
        )
    return "the Python kernel died while running the notebook"


def _record_reply(cell: NotebookNode, cell_index: int, execute_reply: dict) -> None:
    content = execute_reply.get("content", {})
    outcome = {key: _cut(str(content[key])) for key in ("status", "ename", "evalue") if key in content}
    record_outcome(cell, outcome)
