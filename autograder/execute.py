"""Execute: run the notebook that is graded in a fresh Jupyter kernel, cell by cell.

Errors in cells do not stop the run (a failing part must not cost the student the other parts); a
cell that runs past its time limit is interrupted and the run goes on with the next cell; the whole
notebook has a time limit too, and the output it may print is capped. The kernel runs inside the
sandbox (see `sandbox`) unless the teacher turned it off.
"""

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Integer, List, Unicode
from traitlets.config import Config

from autograder.config import KERNEL_NAME, GradingSettings
from autograder.course import CourseError
from autograder.sandbox import Limits, needs_gpu, sandbox_prefix

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


class KernelStartError(CourseError):
    """The kernel would not start: a problem of the grading machine, not of the student's notebook."""


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel behind a command prefix (the sandbox); the rest is jupyter_client's."""

    command_prefix = List(Unicode(), default_value=[]).tag(config=True)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        # `.../tests/../.venv/bin/python` would need tests/ inside the sandbox.
        command[0] = os.path.normpath(command[0])
        return [*self.command_prefix, *command]

    async def interrupt_kernel(self) -> None:
        """Interrupt the running cell; behind a prefix, by message, since a signal would hit the prefix."""
        if not self.command_prefix:
            return await super().interrupt_kernel()
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))


class KernelUnresponsive(Exception):
    """A cell ran past its time limit and the kernel did not answer the interrupt."""


class GradingClient(NotebookClient):
    """nbclient's executor, with a cap on output and no waiting on a kernel that stopped answering."""

    max_output_bytes = Integer(10 * 1024**2).tag(config=True)
    interrupt_grace = Integer(10).tag(config=True)
    _output_bytes = 0  # printed so far; one client runs one notebook
    _output_capped = False

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

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201 (nbclient's signature)
        self._output_bytes += len(str(msg["content"]))
        if self._output_bytes <= self.max_output_bytes or msg["msg_type"] == "error":
            return super().output(outs, msg, display_id, cell_index)
        if not self._output_capped:
            self._output_capped = True
            limit = self.max_output_bytes // 1024**2
            outs.append(new_output("stream", name="stderr", text=f"[output past {limit} MB dropped]\n"))
        return None


def execute(notebook: NotebookNode, workdir: Path, settings: GradingSettings) -> Execution:
    """Run `notebook` (modified in place) with `workdir` as the kernel's working directory."""
    # The kernel talks to us over Unix sockets in its scratch folder, not TCP ports: the sandbox
    # has no network, and no other local user can connect to a student's kernel.
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(workdir / ".kernel")
    config.KernelManager.connection_file = str(workdir / ".kernel.json")
    if settings.sandbox:
        gpu = settings.gpus > 0 and needs_gpu(notebook)
        config.SandboxedKernelManager.command_prefix = sandbox_prefix(workdir, Limits(), gpu)
    client = GradingClient(
        notebook,
        config=config,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=SandboxedKernelManager,
        timeout=settings.cell_timeout,
        startup_timeout=settings.startup_timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=_record_reply,
        error_on_timeout={"ename": INTERRUPTED, "evalue": f"stopped after {settings.cell_timeout:g} s"},
    )
    start = time.monotonic()
    status, message = "graded", ""
    try:
        asyncio.run(asyncio.wait_for(client.async_execute(), settings.notebook_timeout))
    except TimeoutError:
        status = "timeout"
        message = f"the notebook ran longer than {settings.notebook_timeout:g} s and was stopped"
    except KernelUnresponsive:
        status = "timeout"
        message = f"a cell ran longer than {settings.cell_timeout:g} s and the kernel stopped responding"
    except DeadKernelError:
        status, message = "kernel-died", "the Python kernel died while running the notebook"
    except RuntimeError as error:  # nbclient's way of saying the kernel never answered
        raise KernelStartError(
            f"the Jupyter kernel did not start ({error}); check that `{KERNEL_NAME}` runs in the sandbox,"
            " or grade with --unsafe-no-sandbox to see whether the sandbox is the cause"
        ) from error
    if status == "graded" and any(cell_outcome(cell).get("ename") == INTERRUPTED for cell in notebook.cells):
        status = "timeout"
        message = f"a cell ran longer than {settings.cell_timeout:g} s and was stopped"
    return Execution(notebook, status, message, time.monotonic() - start)


def cell_outcome(cell: NotebookNode) -> dict:
    """How the kernel said a cell ended: {'status': 'ok' | 'error' | 'aborted', 'ename', 'evalue'}.

    Empty for a cell that never finished. The grader scores from the kernel's execute reply rather
    than from what a cell printed, which student code can fake or hide.
    """
    return cell.get("metadata", {}).get("autograder", {}).get("outcome", {})


def _record_reply(cell: NotebookNode, cell_index: int, execute_reply: dict) -> None:
    content = execute_reply.get("content", {})
    outcome = {key: content[key] for key in ("status", "ename", "evalue") if key in content}
    cell.setdefault("metadata", {}).setdefault("autograder", {})["outcome"] = outcome
