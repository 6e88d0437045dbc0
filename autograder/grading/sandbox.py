"""Sandbox: the command prefix that runs a student's kernel inside bubblewrap, with limits.

Inside, the kernel sees the operating system and Python read-only, its own scratch folder
read-write, a private /tmp and /dev/shm, and nothing else: not the course repository (solutions,
hidden tests), not the gradebook, not other students' hand-ins, not the teacher's home. It has no
network (only a private loopback), its own process tree (killed with it), and limits on memory,
processes and file size. Its RAM-backed file systems are bounded: /tmp and /dev/shm are size-limited
tmpfs mounts and the sandbox's own root and /dev are read-only. Where the machine lets the grader
create memory cgroups (`memory_cgroups`), each kernel runs in one whose limit covers everything it
can allocate, those file systems, SysV shared memory and kernel memory included. The grader talks
to the kernel through Unix sockets in the scratch folder. A notebook marked as needing a GPU
(`needs_gpu`) also sees the NVIDIA devices, when the grader runs with GPUs.
"""

import atexit
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from autograder.core.config import KernelLimits
from autograder.core.errors import CourseError


class SandboxUnavailable(CourseError):
    """bubblewrap is missing or cannot create namespaces here; the message says what to do."""


# Read-only system paths; on merged-/usr systems /bin, /lib... are symlinks into /usr.
_SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/opt")


def check_sandbox() -> None:
    """Raise SandboxUnavailable unless bubblewrap works on this machine."""
    if _probe() is not None:
        raise SandboxUnavailable(_probe())


@cache
def _probe() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return (
            "bubblewrap (bwrap) is not installed: install it (Debian/Ubuntu: apt-get install bubblewrap)"
            " or pass --unsafe-no-sandbox to run students' code with your own rights"
        )
    probe = subprocess.run(
        [bwrap, "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return (
            f"bubblewrap cannot create a sandbox here ({probe.stderr.strip() or probe.returncode});"
            " allow unprivileged user namespaces or pass --unsafe-no-sandbox"
        )
    return None


def nvidia_devices() -> list[str]:
    """The NVIDIA device files of this machine (none without a GPU or its driver)."""
    return sorted(glob.glob("/dev/nvidia*"))


def sandbox_prefix(
    workdir: Path,
    limits: KernelLimits,
    gpu: bool = False,
    cgroup: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """The command to put before the kernel's own command line; with `gpu`, the kernel sees the GPUs.

    With `cgroup` (see `make_cgroup`), the sandbox and everything in it runs in that cgroup. `env`:
    variables the kernel gets besides the few of its own (it sees none of the grader's).
    """
    args = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534"]
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in _SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    # The private /tmp comes first: a mount on top of it would hide Python if it lives in /tmp.
    args += ["--dev", "/dev", "--proc", "/proc", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    args += ["--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm"]
    if gpu:
        # The driver's libraries are under /usr already; the kernel needs the device files too
        # (/dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia<N>), and after --dev, which would hide them.
        for device in nvidia_devices():
            args += ["--dev-bind", device, device]
    for path in sorted({sys.base_prefix, sys.prefix, sys.exec_prefix}):
        if not any(path == s or path.startswith(s + "/") for s in _SYSTEM):
            args += ["--ro-bind", path, path]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    # bubblewrap builds the root and /dev on tmpfs mounts without a size: writable, they are RAM
    # the kernel could fill outside every limit.
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    args += ["--clearenv", "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin"]
    args += ["--setenv", "HOME", str(workdir), "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib"]
    args += ["--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "LANG", "C.UTF-8"]
    for name, value in (env or {}).items():
        args += ["--setenv", name, value]
    if gpu and "CUDA_VISIBLE_DEVICES" in os.environ:  # the device of this Dask worker
        args += ["--setenv", "CUDA_VISIBLE_DEVICES", os.environ["CUDA_VISIBLE_DEVICES"]]
    # RLIMIT_NPROC counts every process of the real user, so the limit is what runs now plus ours.
    processes = _processes_of_this_user() + limits.processes
    # CUDA reserves far more address space than memory it uses, so a GPU kernel's limit is on data instead.
    memory = f"--data={limits.memory_bytes}" if gpu else f"--as={limits.memory_bytes}"
    args += ["prlimit", memory, f"--nproc={processes}"]
    args += [f"--fsize={limits.file_bytes}", "--core=0", "--"]
    # Without the grader's environment ipykernel prints a how-to-connect banner on stdout.
    args += ["sh", "-c", 'exec "$@" >/dev/null', "kernel"]
    if cgroup is not None:
        # Joined before bubblewrap starts, so that every process of the sandbox is in it.
        args = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup), *args]
    return args


def memory_cgroups() -> Path | None:
    """The cgroup under which the grader can create a memory-limited cgroup per kernel; None where it cannot.

    It can as root (or with a delegated cgroup) on cgroup v1's memory controller, or on v2 where
    this process's cgroup already hands the memory controller to its children.
    """
    return _cgroup_parent()


@cache
def _cgroup_parent() -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            parent = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        elif controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            parent = Path("/sys/fs/cgroup") / path.lstrip("/")
        else:
            continue
        try:
            probe = make_cgroup(parent, f"autograder-probe-{os.getpid()}", 64 * 1024**2)
            remove_cgroup(probe)
        except OSError:
            continue
        return parent
    return None


def make_cgroup(parent: Path, name: str, limit_bytes: int) -> Path:
    """A new cgroup under `parent` whose processes may use `limit_bytes` of memory, swap included."""
    cgroup = parent / name
    cgroup.mkdir()
    try:
        if (cgroup / "memory.max").exists():  # v2
            (cgroup / "memory.max").write_text(str(limit_bytes))
            if (cgroup / "memory.swap.max").exists():
                (cgroup / "memory.swap.max").write_text("0")
        else:
            (cgroup / "memory.limit_in_bytes").write_text(str(limit_bytes))
            if (cgroup / "memory.memsw.limit_in_bytes").exists():
                (cgroup / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
    except OSError:
        cgroup.rmdir()
        raise
    return cgroup


def cgroup_ran_out(cgroup: Path) -> bool:
    """Whether a process of `cgroup` was killed for going past its memory limit."""
    for name in ("memory.events", "memory.oom_control"):  # v2, v1
        try:
            for line in (cgroup / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip() not in ("", "0"):
                    return True
        except OSError:
            continue
    return False


REMOVE_CGROUP_SECONDS = 5.0
"""How long a kernel's cgroup is tried to be removed before it is left for later (see `remove_cgroup`)."""

_left_behind: list[Path] = []
"""cgroups whose processes were still exiting when their kernel was done; tried again later."""


def remove_cgroup(cgroup: Path) -> None:
    """Kill whatever still runs in `cgroup` and remove it, and any left behind before.

    On a loaded machine the killed processes may take a while to leave. A cgroup that is still busy
    after `REMOVE_CGROUP_SECONDS` is left for the next call or the grader's exit: it holds nothing
    of the student's any more, and the grade of its notebook must not be lost over it.
    """
    for earlier in list(_left_behind):
        if _try_removing(earlier, seconds=0):
            _left_behind.remove(earlier)
    if not _try_removing(cgroup, REMOVE_CGROUP_SECONDS):
        _left_behind.append(cgroup)


def _try_removing(cgroup: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            pids = (cgroup / "cgroup.procs").read_text().split()
        except FileNotFoundError:
            return True
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                continue
        try:
            cgroup.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:  # busy: its processes are still exiting
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


@atexit.register
def _remove_left_behind() -> None:
    for cgroup in _left_behind:
        _try_removing(cgroup, REMOVE_CGROUP_SECONDS)


def _processes_of_this_user() -> int:
    """Processes and threads the current user runs now (what RLIMIT_NPROC counts)."""
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count
