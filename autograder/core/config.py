"""Every setting of the autograder, with its one default and one line of help.

These are plain data; a course sets them in its nbgrader_config.py (see `settings`), and the
command line's flags override that.
"""

import os
from dataclasses import dataclass, field

SOURCE_DIR = "source_notebooks"
"""Folder (under the course root) with one sub-folder of source notebooks per assignment."""

RELEASE_DIR = "assignments"
"""Folder (under the course root) that `autograder release` writes the student versions to."""

GRADEBOOK_FILE = "gradebook.sqlite"
"""File name of the default SQLite gradebook inside the output folder of `autograder grade`."""

KERNEL_NAME = "python3"
"""Jupyter kernel that runs the students' notebooks."""


@dataclass(frozen=True)
class KernelLimits:
    """Resource limits of one sandboxed kernel."""

    memory_bytes: int = 4 * 1024**3
    """Address space of the kernel process (torch alone maps about 1 GiB)."""
    processes: int = 64
    """Processes and threads the kernel may add; stops fork bombs."""
    file_bytes: int = 256 * 1024**2
    """Largest file the kernel may write."""
    tmp_bytes: int = 512 * 1024**2
    """Size of the kernel's private /tmp (RAM-backed)."""
    shm_bytes: int = 256 * 1024**2
    """Size of the kernel's private /dev/shm (RAM-backed)."""
    scratch_bytes: int = 1024**3
    """What the kernel's scratch folder (on the grader's disk) may hold, in bytes (see `kernels`)."""
    scratch_files: int = 10_000
    """What the kernel's scratch folder may hold, in files and folders."""

    @property
    def cgroup_bytes(self) -> int:
        """The memory cgroup's limit: all the kernel may map plus its RAM-backed file systems."""
        return self.memory_bytes + self.tmp_bytes + self.shm_bytes


@dataclass(frozen=True)
class UnzipLimits:
    """What one download may unpack to, so that a zip bomb stops with a message instead of a full disk."""

    max_bytes: int = 2 * 1024**3
    max_files: int = 20_000
    max_depth: int = 3
    """Zips inside zips: 1 is the download itself, 2 a student's zip in it, 3 a zip in that."""


@dataclass(frozen=True)
class GradingSettings:
    """How one grading run behaves; the CLI's options map one to one onto these fields."""

    cell_timeout: int = 60
    """Whole seconds a single cell may run before it is interrupted (the part scores 0)."""

    notebook_timeout: float = 600.0
    """Seconds the whole notebook may run before it is stopped (the parts not reached score 0)."""

    startup_timeout: float = 60.0
    """Seconds the kernel may take to start."""

    workers: int = os.cpu_count() or 1
    """Notebooks graded at once, each by its own Dask worker process (1: no Dask, in this process)."""

    scheduler: str | None = None
    """Address of an existing Dask scheduler to grade on instead of local workers."""

    cluster: str | None = None
    """HPC batch system to grade on through dask-jobqueue: slurm, lsf or pbs (job settings: jobqueue.yaml)."""

    jobs: int = 4
    """Batch jobs to submit with `cluster`, each running one Dask worker."""

    queue: str | None = None
    """Batch queue of the jobs; overrides jobqueue.<cluster>.queue of dask's config."""

    walltime: str | None = None
    """Time limit of each batch job, as the batch system writes it; overrides dask's config."""

    gpus: int = 0
    """GPU notebooks graded at once, each on its own GPU (0: they run on the CPU like any other)."""

    sandbox: bool = True
    """Run students' code in the bubblewrap sandbox; off only with --unsafe-no-sandbox."""

    reference_cache: str = ""
    """Folder of the cached reference runs (see `reference`); empty: the user's cache folder."""

    regrade: bool = False
    """Grade again even when the submission and the assignment did not change since the last run."""

    limits: KernelLimits = field(default_factory=KernelLimits)
    """What one student's kernel may use."""

    unzip_limits: UnzipLimits = field(default_factory=UnzipLimits)
    """What one LMS download may unpack to."""

    @property
    def kernel_threads(self) -> int:
        """Threads each kernel's numerical libraries may use: this machine's cores shared among its
        workers, so that workers that each train a model do not crowd each other out. 0 (the
        libraries' own choice) on a cluster, whose machines this process does not see."""
        if self.scheduler is not None or self.cluster is not None:
            return 0
        return max(1, (os.cpu_count() or 1) // max(1, self.workers))
