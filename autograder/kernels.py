"""Kernels: a fresh sandboxed kernel for every notebook, started one notebook ahead.

Starting a kernel (the interpreter, ipykernel and IPython, inside bubblewrap) is most of what
grading a small notebook costs, and none of it depends on the student. So while a worker grades one
notebook, the kernel for its next one is already starting: in a fresh scratch folder that holds
only the assignment's data files, in a sandbox of its own. Every kernel runs exactly one notebook
and is then killed and its folder deleted, so nothing passes between students; a spare that does not
fit the next notebook (another assignment, a GPU notebook) is thrown away and a new one started.

The kernel also starts lighter than `python -m ipykernel_launcher`: without jedi and debugpy, which
IPython and ipykernel import for completion and debugging (never used when grading), and without
IPython's history thread and database.
"""

import asyncio
import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import List, Unicode
from traitlets.config import Config

from autograder.config import KERNEL_NAME
from autograder.sandbox import Limits, sandbox_prefix

# What `python -m ipykernel_launcher` does, with the interactive-only modules made unimportable
# (None in sys.modules: `import jedi` raises ImportError, which both libraries expect).
LAUNCHER = (
    "import sys\n"
    "sys.modules.update(dict.fromkeys(('jedi', 'debugpy')))\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "from ipykernel import kernelapp\n"
    "kernelapp.launch_new_instance()\n"
)

KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False", "--InteractiveShell.xmode=Plain"]
"""ipykernel options of every grading kernel: no history database, nor the thread that writes it,
and plain tracebacks (IPython's default ones inspect every frame's source: 0.1 s per error)."""


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel behind a command prefix (the sandbox); the rest is jupyter_client's."""

    command_prefix = List(Unicode(), default_value=[]).tag(config=True)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        # `.../tests/../.venv/bin/python` would need tests/ inside the sandbox.
        command[0] = os.path.normpath(command[0])
        if command[1:3] == ["-m", "ipykernel_launcher"]:
            command[1:3] = ["-c", LAUNCHER]
        return [*self.command_prefix, *command]

    async def interrupt_kernel(self) -> None:
        """Interrupt the running cell; behind a prefix, by message, since a signal would hit the prefix."""
        if not self.command_prefix:
            return await super().interrupt_kernel()
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))


@dataclass(frozen=True)
class Recipe:
    """What a kernel is started from, all known before the student is; equal recipes, interchangeable kernels."""

    data_folder: Path | None = None
    data_files: tuple[Path, ...] = ()
    """Files copied into the scratch folder, relative to `data_folder` (the assignment's data)."""
    sandbox: bool = True
    gpu: bool = False


class Kernel:
    """One started kernel in its own scratch folder, for one notebook."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.workdir = Path(tempfile.mkdtemp(prefix="autograder-"))
        for relative in recipe.data_files:
            (self.workdir / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(recipe.data_folder / relative, self.workdir / relative)
        # The kernel talks to us over Unix sockets in its scratch folder, not TCP ports: the sandbox
        # has no network, and no other local user can connect to a student's kernel.
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(self.workdir / ".kernel")
        config.KernelManager.connection_file = str(self.workdir / ".kernel.json")
        if recipe.sandbox:
            prefix = sandbox_prefix(self.workdir, Limits(), recipe.gpu)
            config.SandboxedKernelManager.command_prefix = prefix
        self.manager = SandboxedKernelManager(config=config, kernel_name=KERNEL_NAME)

    async def start(self) -> None:
        """Launch the kernel process; it gets ready on its own, and the client waits for it."""
        try:
            await self.manager.start_kernel(cwd=str(self.workdir), extra_arguments=KERNEL_ARGUMENTS)
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise

    async def close(self) -> None:
        """Kill the kernel (with its sandbox, its whole process tree) and delete its folder."""
        try:
            if self.manager.has_kernel:
                await self.manager.shutdown_kernel(now=True)
            else:
                await self.manager.cleanup_resources()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


_spare: Kernel | None = None
"""This process's kernel for its next notebook, started while the current one runs."""


async def fresh_kernel(recipe: Recipe, start_spare: bool) -> Kernel:
    """A started kernel that has run nothing yet; with `start_spare`, also start the next one."""
    global _spare
    kernel, _spare = _spare, None
    if kernel is not None and (kernel.recipe != recipe or not await kernel.manager.is_alive()):
        await kernel.close()
        kernel = None
    if kernel is None:
        kernel = Kernel(recipe)
        await kernel.start()
    if start_spare:
        spare = Kernel(recipe)
        await spare.start()
        _spare = spare
    return kernel


def discard_spare() -> None:
    """Stop the spare kernel, if any: at the end of a run, or when the process exits."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        # A thread of its own: the caller may be inside an event loop (a Dask worker's).
        closing = threading.Thread(target=asyncio.run, args=(spare.close(),))
        closing.start()
        closing.join()


atexit.register(discard_spare)


def dask_teardown(worker: object) -> None:
    """Dask calls this in a worker that preloads this module as it closes: stop its spare kernel."""
    discard_spare()
