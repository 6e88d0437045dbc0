"""Parallel: run the grading of many notebooks on Dask workers, results back as they finish.

Three places to run: a LocalCluster of worker processes (one kernel per worker at a time), an
existing Dask cluster given by its scheduler's address, or batch jobs on an HPC cluster (Slurm,
LSF, PBS) through dask-jobqueue, whose job settings come from dask's config
(`~/.config/dask/jobqueue.yaml`). Notebooks marked as needing a GPU ask for the Dask worker resource
`GPU`, so at most as many of them run at once as there are GPUs, each worker on its own device.
Only the grading runs on the workers; the caller writes every result (gradebook, feedback) in one
process, so SQLite sees a single writer.
"""

import functools
import logging
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from autograder.core.config import GradingSettings
from autograder.core.errors import CourseError
from autograder.core.interrupt import deaf_children

if TYPE_CHECKING:
    from dask_jobqueue import JobQueueCluster
    from distributed import Client, SpecCluster

SMALL_BATCH = 8
"""Batches smaller than this run here: starting worker processes costs seconds (imports included)."""

GPU = "GPU"
"""The Dask worker resource a GPU notebook takes one unit of; a GPU worker offers one."""

BATCH_SYSTEMS = {
    "slurm": ("SLURMCluster", "sbatch", "Slurm"),
    "lsf": ("LSFCluster", "bsub", "LSF"),
    "pbs": ("PBSCluster", "qsub", "PBS"),
}
"""`--cluster` choice: dask-jobqueue's cluster class, the command that submits a job, the system's name."""


def run_all(
    job: Callable[..., Any],
    arguments: Iterable[tuple],
    settings: GradingSettings,
    needs_gpu: Callable[[tuple], bool] = lambda args: False,
    on_failure: Callable[[tuple, Exception], Any] | None = None,
    cleanup: Callable[[], Any] | None = None,
) -> Iterator[Any]:
    """Yield `job(*args)` for every tuple in `arguments`, in the order they finish.

    Where they run is `settings`' choice (workers, scheduler, cluster); with `settings.gpus`, the
    arguments for which `needs_gpu` is true run on GPU workers, at most `gpus` at once. With one
    worker or a small batch, and neither scheduler nor cluster, the jobs run here one after the other.
    A job that raises, or whose worker died under it, yields `on_failure(args, error)` instead, and
    the others go on; without `on_failure` the error ends the run. A CourseError (a problem of the
    course or the machine, the same for every job) always ends it. `cleanup` runs in every process
    that ran jobs once the last has finished, for what a job keeps for the next one (a kernel
    started ahead): a worker's exit would leave it behind, since forked processes run no exit handlers.
    """

    arguments = list(arguments)
    _check(settings)
    if runs_here(settings, len(arguments)):
        for args in arguments:
            yield _attempt(functools.partial(job, *args), args, on_failure)
        if cleanup is not None:
            cleanup()
        return
    if not arguments:
        return
    from dask.distributed import Client, as_completed  # only paid for when used

    on_gpu = [settings.gpus > 0 and needs_gpu(args) for args in arguments]
    with ExitStack() as stack:
        if settings.scheduler is not None:
            client = stack.enter_context(connect(settings.scheduler))
            if any(on_gpu):
                _require_gpu_workers(client)
        elif settings.cluster is not None:
            require_batch_system(settings.cluster)
            cluster = stack.enter_context(make_cluster(settings.cluster, settings))
            submit_jobs(cluster, min(settings.gpus or settings.jobs, len(arguments)), settings.cluster)
            client = stack.enter_context(Client(cluster))
        else:
            gpu_jobs = sum(on_gpu)
            with deaf_children():  # the workers leave Ctrl-C and SIGTERM to this process (see `interrupt`)
                cluster = stack.enter_context(
                    local_cluster(
                        settings.workers, min(settings.gpus, gpu_jobs), len(arguments), job.__module__
                    )
                )
            client = stack.enter_context(Client(cluster))
        # GPU notebooks go first: a CPU notebook that took a GPU worker's only thread would keep
        # the GPU idle until it ends.
        order = sorted(range(len(arguments)), key=lambda i: not on_gpu[i])
        # Failures are caught on the worker (`_attempt`); here only those that took the worker down.
        futures = {
            client.submit(
                _attempt,
                functools.partial(job, *arguments[i]),
                arguments[i],
                on_failure,
                pure=False,
                resources={GPU: 1} if on_gpu[i] else None,
            ): i
            for i in order
        }
        for future in as_completed(futures):
            # Done, so its result is only fetched; a fetch that never returns (seen once, when a
            # worker had lost it) fails that job instead of holding up the whole class.
            fetch = functools.partial(future.result, timeout=FETCH_TIMEOUT)
            yield _attempt(fetch, arguments[futures[future]], on_failure)
        if cleanup is not None:
            client.run(cleanup)


FETCH_TIMEOUT = 120
"""Seconds to wait for the result of a finished job to arrive from its worker."""


def runs_here(settings: GradingSettings, jobs: int) -> bool:
    """Whether `run_all` runs a batch of `jobs` in this process, one after the other."""
    remote = settings.scheduler is not None or settings.cluster is not None
    return not remote and (settings.workers <= 1 or jobs < SMALL_BATCH)


SCHEDULER_TIMEOUT = 15
"""Seconds to keep trying to reach a Dask scheduler given by its address."""


def connect(address: str) -> "Client":
    """A client of the scheduler at `address`; CourseError in one line when it cannot be reached."""
    from distributed import Client

    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:  # ValueError: not an address at all
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CourseError(
            f"cannot reach the Dask scheduler at {address} ({reason}): is it running"
            " (`dask scheduler`), and is the address tcp://host:port?"
        ) from None


def _attempt(
    run: Callable[[], Any], args: tuple, on_failure: Callable[[tuple, Exception], Any] | None
) -> Any:
    """`run()`, or `on_failure(args, error)` when it raises anything but a CourseError.

    On a Dask worker it catches what the job raised; in this process, what `future.result()` raises
    when the worker died under the job (distributed's KilledWorker).
    """
    try:
        return run()
    except CourseError:
        raise
    except Exception as error:
        if on_failure is None:
            raise
        return on_failure(args, error)


def local_cluster(workers: int, gpus: int, jobs: int, preload: str) -> "SpecCluster":
    """Worker processes on this machine, one thread each, `gpus` of them with a GPU of their own.

    The GPU workers offer one unit of the `GPU` resource and see only their device
    (CUDA_VISIBLE_DEVICES); CPU notebooks run on any worker. `preload` is the module the workers
    import while they start, together, instead of on their first job.
    """
    import dask

    cpu_workers = max(min(workers, jobs) - gpus, 0 if gpus else 1)
    # Forked workers start with this process's modules already imported: the cluster is up in about a
    # second instead of ten (spawned ones import the grader and distributed again). They never touch
    # the gradebook, whose connections a fork leaves to the parent (see `gradebook`), nor CUDA: the
    # kernels are fresh processes. Elsewhere than Linux fork is unsafe, so they are spawned there.
    start = {"distributed.worker.multiprocessing-method": "fork" if sys.platform == "linux" else "spawn"}
    with dask.config.set(start):
        return _cluster(cpu_workers, gpus, preload)


def _cluster(cpu_workers: int, gpus: int, preload: str) -> "SpecCluster":
    """The cluster `local_cluster` describes, made under the start method it chose."""
    from distributed import LocalCluster, Nanny, Scheduler, SpecCluster

    if not gpus:
        return LocalCluster(
            n_workers=cpu_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            preload=[preload],
        )
    # LocalCluster gives every worker the same settings; a SpecCluster lets each GPU worker have its own device.
    common = {"nthreads": 1, "preload": [preload], "silence_logs": logging.ERROR, "dashboard": False}
    spec = {f"cpu-{n}": {"cls": Nanny, "options": common} for n in range(cpu_workers)}
    for device in range(gpus):
        spec[f"gpu-{device}"] = {
            "cls": Nanny,
            "options": {**common, "resources": {GPU: 1}, "env": {"CUDA_VISIBLE_DEVICES": str(device)}},
        }
    # Its HTTP server starts even without a dashboard; any free port, not a clash on 8787.
    scheduler = {
        "cls": Scheduler,
        "options": {"host": "127.0.0.1", "dashboard": False, "dashboard_address": ":0"},
    }
    return SpecCluster(workers=spec, scheduler=scheduler, silence_logs=logging.ERROR)


def make_cluster(kind: str, settings: GradingSettings) -> "JobQueueCluster":
    """The dask-jobqueue cluster for `kind` (slurm, lsf, pbs), without any job submitted yet.

    Its jobs' settings come from dask's config (`jobqueue.<kind>` in ~/.config/dask/jobqueue.yaml:
    cores, memory, account/project, job_extra_directives, ...); `settings.queue` and
    `settings.walltime` override the config's. With `settings.gpus`, every job is a GPU job: one
    worker offering one GPU (the config must ask the batch system for it, which then sets the job's
    CUDA_VISIBLE_DEVICES), so a job grades one GPU notebook at a time and CPU notebooks on its other cores.
    """
    if kind not in BATCH_SYSTEMS:
        raise CourseError(f"unknown cluster {kind!r}; choose one of: {', '.join(BATCH_SYSTEMS)}")
    import dask
    import dask_jobqueue

    class_name, _, name = BATCH_SYSTEMS[kind]
    if any(dask.config.get(f"jobqueue.{kind}.{key}", None) is None for key in ("cores", "memory")):
        raise CourseError(
            f"{name} jobs need their cores and memory: set jobqueue.{kind}.cores and"
            f" jobqueue.{kind}.memory in ~/.config/dask/jobqueue.yaml"
        )
    options: dict[str, Any] = {"queue": settings.queue, "walltime": settings.walltime}
    if settings.gpus:
        extra = dask.config.get(f"jobqueue.{kind}.worker-extra-args") or []
        options.update(processes=1, worker_extra_args=[*extra, "--resources", f"{GPU}=1"])
    try:
        return getattr(dask_jobqueue, class_name)(**{k: v for k, v in options.items() if v is not None})
    except ValueError as error:  # dask-jobqueue's word for a wrong job setting
        first_line = str(error).strip().splitlines()[0]
        raise CourseError(
            f"cannot set up {name} jobs ({first_line}): check jobqueue.{kind} in ~/.config/dask/jobqueue.yaml"
        ) from error


def submit_jobs(cluster: "JobQueueCluster", jobs: int, kind: str) -> None:
    """Submit `jobs` batch jobs and wait for the batch system to take them (not for them to start).

    `cluster.scale` would submit in the background, where a job the batch system refuses is only
    logged, and the grading would wait for its worker for ever.
    """
    while len(cluster.worker_spec) < jobs:  # one entry per job, as scale() fills it
        cluster.worker_spec.update(cluster.new_worker_spec())
    try:
        cluster.sync(cluster._correct_state)
    except RuntimeError as error:  # dask-jobqueue's: the submit command failed, with its output
        from distributed.core import Status

        # Closing the cluster insists that every job it made has ended; a refused one never started.
        for job in cluster.workers.values():
            if job.status == Status.created:
                job.status = Status.failed
        said = " ".join(line.strip() for line in str(error).split("stderr:")[-1].splitlines() if line.strip())
        _, submit, name = BATCH_SYSTEMS[kind]
        raise CourseError(
            f"{name} did not take the jobs: `{submit}` failed{f' ({said})' if said else ''};"
            f" check the queue and jobqueue.{kind} in ~/.config/dask/jobqueue.yaml"
        ) from error


def job_script(kind: str, settings: GradingSettings) -> str:
    """The script each batch job of `kind` would run; submits nothing."""
    with make_cluster(kind, settings) as cluster:
        return cluster.job_script()


def require_batch_system(kind: str) -> None:
    """Raise CourseError unless the command that submits `kind`'s jobs is on PATH."""
    _, submit, name = BATCH_SYSTEMS[kind]
    if shutil.which(submit) is None:
        raise CourseError(
            f"--cluster {kind} needs {name}'s `{submit}`, which is not on PATH: grade on a login node"
            " of the cluster (with this course checkout and .venv on its shared file system)"
        )


def _check(settings: GradingSettings) -> None:
    if settings.scheduler is not None and settings.cluster is not None:
        raise CourseError("choose one of --scheduler and --cluster, not both")
    if settings.cluster is not None and settings.cluster not in BATCH_SYSTEMS:
        raise CourseError(f"unknown cluster {settings.cluster!r}; choose one of: {', '.join(BATCH_SYSTEMS)}")


def _require_gpu_workers(client: "Client") -> None:
    """Without a worker that offers the GPU resource, GPU notebooks would wait for ever."""
    workers = client.scheduler_info()["workers"].values()
    if not any(worker.get("resources", {}).get(GPU) for worker in workers):
        raise CourseError(
            f"no worker of the scheduler offers a GPU: start one per device with"
            f" `CUDA_VISIBLE_DEVICES=<i> dask worker <address> --nthreads 1 --resources {GPU}=1`"
        )
