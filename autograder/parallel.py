"""Parallel: run the grading of many notebooks on Dask workers, results back as they finish.

A LocalCluster of worker processes by default (one kernel per worker at a time), or an existing
Dask cluster given by its scheduler's address. Only the grading runs on the workers; the caller
writes every result (gradebook, feedback) in one process, so SQLite sees a single writer.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

SMALL_BATCH = 8
"""Batches smaller than this run here: starting worker processes costs seconds (imports included)."""


def run_all(
    job: Callable[..., Any], arguments: Iterable[tuple], workers: int, scheduler: str | None = None
) -> Iterator[Any]:
    """Yield `job(*args)` for every tuple in `arguments`, in the order they finish.

    With one worker or a small batch, and no scheduler, the jobs run here one after the other.
    """
    arguments = list(arguments)
    if scheduler is None and (workers <= 1 or len(arguments) < SMALL_BATCH):
        for args in arguments:
            yield job(*args)
        return
    if not arguments:
        return
    from dask.distributed import Client, LocalCluster, as_completed  # only paid for when used

    if scheduler is not None:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(
            n_workers=min(workers, len(arguments)),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            preload=[job.__module__],  # workers import the grading code while they start, together
        )
        client = Client(cluster)
    try:
        futures = [client.submit(job, *args, pure=False) for args in arguments]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if scheduler is None:
            cluster.close()
