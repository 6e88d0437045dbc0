"""Every setting of the autograder, with its one default and one line of help."""

from dataclasses import dataclass

SOURCE_DIR = "source_notebooks"
"""Folder (under the course root) with one sub-folder of source notebooks per assignment."""

RELEASE_DIR = "assignments"
"""Folder (under the course root) that `autograder release` writes the student versions to."""

GRADEBOOK_FILE = "gradebook.sqlite"
"""File name of the default SQLite gradebook inside the output folder of `autograder grade`."""

KERNEL_NAME = "python3"
"""Jupyter kernel that runs the students' notebooks."""


@dataclass(frozen=True)
class GradingSettings:
    """How one grading run behaves; the CLI's options map one to one onto these fields."""

    cell_timeout: int = 60
    """Whole seconds a single cell may run before it is interrupted (the part scores 0)."""

    notebook_timeout: float = 600.0
    """Seconds the whole notebook may run before it is stopped (the parts not reached score 0)."""

    startup_timeout: float = 60.0
    """Seconds the kernel may take to start."""

    workers: int = 1
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
