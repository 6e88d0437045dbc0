"""Kernels: a fresh sandboxed kernel for every notebook, started one notebook ahead.

Starting a kernel (the interpreter, ipykernel and IPython, inside bubblewrap) is most of what
grading a small notebook costs, and none of it depends on the student. So while a worker grades one
notebook, the kernel for its next one is already starting: in a fresh scratch folder that holds
only the assignment's data files, in a sandbox of its own. Every kernel runs exactly one notebook
and is then killed and its folder deleted, so nothing passes between students; a spare that does not
fit the next notebook (another assignment, a GPU notebook) is thrown away and a new one started.

The kernel also starts lighter than `python -m ipykernel_launcher`: without jedi and debugpy, which
IPython and ipykernel import for completion and debugging (never used when grading), and without
IPython's history thread and database; and its client is ready as soon as the kernel answers
(`PromptKernelClient`).

Each kernel's memory is one cgroup where the machine allows it (see `sandbox`), and its scratch
folder is bounded in bytes and in files (`scratch_usage`, watched while the notebook runs by
`execute`). The folder is deleted without recursion or long paths, so no tree a student builds in
it can stop its cleanup. The messages it sends are decoded with limits (see `messages`).
"""

import asyncio
import atexit
import os
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.session import Session
from traitlets import List, Unicode, default
from traitlets.config import Config

from autograder.core.config import KERNEL_NAME, KernelLimits
from autograder.grading.messages import GuardedSession
from autograder.grading.sandbox import (
    cgroup_ran_out,
    make_cgroup,
    memory_cgroups,
    remove_cgroup,
    sandbox_prefix,
)

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


IOPUB_WAIT = 0.02
"""Seconds a new client gives IOPub to deliver a message after each kernel_info reply."""


EXIT_POLL = 0.005
"""Seconds between looks whether a killed kernel has gone."""


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's client, without the fifth of a second it idles before every notebook.

    A client is ready when the kernel answers kernel_info on the shell channel and IOPub delivers a
    message, which shows it is subscribed. jupyter_client gives IOPub 0.2 s after the first reply,
    but a subscription made a moment earlier misses that request's messages, so it always waited the
    whole 0.2 s and asked again: a third of the time two workers spent on a small notebook. Here
    IOPub gets `IOPUB_WAIT` and the request is repeated until a message arrives.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 (jupyter_client's)
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            if await self._kernel_info_reply(within=1.0) and await self._iopub_delivers():
                return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    async def _kernel_info_reply(self, within: float) -> bool:
        try:
            reply = await self.shell_channel.get_msg(timeout=within)
        except Empty:
            return False
        if reply["msg_type"] != "kernel_info_reply":
            return False
        self._handle_kernel_info_reply(reply)
        return True

    async def _iopub_delivers(self) -> bool:
        try:
            await self.iopub_channel.get_msg(timeout=IOPUB_WAIT)
        except Empty:
            return False
        return True


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel behind a command prefix (the sandbox); the rest is jupyter_client's."""

    command_prefix = List(Unicode(), default_value=[]).tag(config=True)

    @default("client_factory")
    def _client_factory_default(self) -> type:
        return PromptKernelClient

    @default("session")
    def _session_default(self) -> Session:
        return GuardedSession(parent=self)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        # `.../tests/../.venv/bin/python` would need tests/ inside the sandbox.
        command[0] = os.path.normpath(command[0])
        if command[1:3] == ["-m", "ipykernel_launcher"]:
            command[1:3] = ["-c", LAUNCHER]
        return [*self.command_prefix, *command]

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        # jupyter_client looks every 0.1 s whether the killed kernel is gone; it goes within a few
        # milliseconds, and every notebook waited the rest of the interval idle.
        while await self._async_is_alive():
            await asyncio.sleep(EXIT_POLL)

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
    limits: KernelLimits = KernelLimits()
    threads: int = 0
    """Threads the kernel's numerical libraries may use (`thread_variables`); 0: their own choice."""


def thread_variables(threads: int) -> dict[str, str]:
    """The environment that holds OpenMP (and so torch), OpenBLAS and MKL to `threads` threads; 0: unset."""
    if threads <= 0:
        return {}
    return dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), str(threads))


class Kernel:
    """One started kernel in its own scratch folder, for one notebook."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.limits = limits = recipe.limits
        self.workdir = Path(tempfile.mkdtemp(prefix="autograder-"))
        self.cgroup = None
        self.scratch_full = False
        """Set when its scratch folder was found past the limits (see `execute`)."""
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
            parent = memory_cgroups()
            if parent is not None:
                self.cgroup = make_cgroup(parent, self.workdir.name, limits.cgroup_bytes)
            threads = thread_variables(recipe.threads)
            prefix = sandbox_prefix(self.workdir, limits, recipe.gpu, self.cgroup, threads)
            config.SandboxedKernelManager.command_prefix = prefix
        self.manager = SandboxedKernelManager(config=config, kernel_name=KERNEL_NAME)

    async def start(self) -> None:
        """Launch the kernel process; it gets ready on its own, and the client waits for it."""
        try:
            # Without the sandbox the kernel inherits this environment; in it, bwrap sets its own.
            env = {**os.environ, **thread_variables(self.recipe.threads)}
            await self.manager.start_kernel(cwd=str(self.workdir), extra_arguments=KERNEL_ARGUMENTS, env=env)
        except BaseException:
            self._remove()
            raise

    def ran_out_of_memory(self) -> bool:
        """Whether its memory cgroup killed a process of the kernel for going past the limit."""
        return self.cgroup is not None and cgroup_ran_out(self.cgroup)

    async def close(self) -> None:
        """Kill the kernel (with its sandbox, its whole process tree) and delete its folder."""
        try:
            if self.manager.has_kernel:
                await self.manager.shutdown_kernel(now=True)
            else:
                await self.manager.cleanup_resources()
        finally:
            self._remove()

    def _remove(self) -> None:
        if self.cgroup is not None:
            remove_cgroup(self.cgroup)
        remove_tree(self.workdir)


def scratch_usage(folder: Path, max_entries: int) -> tuple[int, int]:
    """(bytes on disk, files and folders) under `folder`, counting stops past `max_entries` entries.

    Walks by folder descriptors with a stack of its own, so neither depth nor path length matters.
    """
    used, entries = 0, 0
    stack = [os.open(folder, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        while stack and entries <= max_entries:
            fd = stack.pop()
            try:
                with os.scandir(fd) as listing:
                    for entry in listing:
                        entries += 1
                        info = entry.stat(follow_symlinks=False)
                        used += info.st_blocks * 512
                        if stat.S_ISDIR(info.st_mode) and entries <= max_entries:
                            stack.append(_open_folder(entry.name, fd))
            finally:
                os.close(fd)
    except OSError:  # a name gone, a folder made unreadable: what could be counted stands
        pass
    finally:
        for fd in stack:
            os.close(fd)
    return used, entries


def _open_folder(name: str, parent_fd: int) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)


def remove_tree(folder: Path) -> None:
    """Delete `folder` and all under it, however deep, never following a link; on an error, what is left stays."""
    names = [folder.name]  # the path from folder.parent down to the folder being emptied
    fds = []
    try:
        fds.append(os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY))
        fds.append(_open_folder(folder.name, fds[0]))
        while len(fds) > 1:
            child = None
            with os.scandir(fds[-1]) as listing:
                for entry in listing:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fds[-1])
            if child is not None:
                os.chmod(child, 0o700, dir_fd=fds[-1])  # a folder its owner made unreadable
                fds.append(_open_folder(child, fds[-1]))
                names.append(child)
            else:
                os.close(fds.pop())
                os.rmdir(names.pop(), dir_fd=fds[-1])
    except OSError:
        pass
    finally:
        for fd in fds:
            os.close(fd)


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
