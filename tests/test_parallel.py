"""Where the grading runs: batch jobs on HPC systems, GPU notebooks on GPU workers, GPUs in the sandbox.

No batch system and no GPU are needed: the batch jobs are checked by the script they would submit,
and the GPU scheduling with a job that only records when and on which device it ran.
"""

import functools
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import dask
import dask_jobqueue  # noqa: F401 (its defaults must be in dask's config before a test changes that)
import pytest

from autograder.core.cells import needs_gpu
from autograder.core.config import GradingSettings, KernelLimits
from autograder.core.errors import CourseError

# Only light imports here: the Dask workers of the scheduling test import this module as they start.
from autograder.grading import sandbox
from autograder.grading.parallel import job_script, run_all
from autograder.grading.sandbox import sandbox_prefix

# What each batch system's script must say for queue, cores, memory (6 GB) and walltime.
DIRECTIVES = {
    "slurm": ["#SBATCH -p gpuv100", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=6G", "#SBATCH -t 02:00:00"],
    "lsf": ["#BSUB -q gpuv100", "#BSUB -n 4", "#BSUB -M 6000", "#BSUB -W 02:00"],
    "pbs": ["#PBS -q gpuv100", "#PBS -l select=1:ncpus=4:mem=5723MB", "#PBS -l walltime=02:00:00"],
}
WALLTIME = {"slurm": "02:00:00", "lsf": "02:00", "pbs": "02:00:00"}


@pytest.fixture
def jobqueue_config():
    """Settings a teacher would keep in ~/.config/dask/jobqueue.yaml."""
    config = {}
    for kind in DIRECTIVES:
        config[f"jobqueue.{kind}.cores"] = 4
        config[f"jobqueue.{kind}.memory"] = "6GB"
        config[f"jobqueue.{kind}.queue"] = "hpc"  # overridden by --queue below
        config[f"jobqueue.{kind}.scheduler-options"] = {"dashboard_address": None}
    config["jobqueue.lsf.lsf-units"] = "mb"  # else read from the cluster's lsf.conf
    config["jobqueue.lsf.job-extra-directives"] = ['-gpu "num=1"']
    with dask.config.set(config):
        yield


@pytest.mark.parametrize("kind", sorted(DIRECTIVES))
def test_batch_job_script_asks_for_the_configured_resources(kind, jobqueue_config):
    script = job_script(kind, GradingSettings(cluster=kind, queue="gpuv100", walltime=WALLTIME[kind]))
    lines = script.splitlines()
    for directive in DIRECTIVES[kind]:
        assert directive in lines, f"{directive!r} missing from:\n{script}"
    assert "#BSUB -q hpc" not in lines and "#SBATCH -p hpc" not in lines
    worker = next(line for line in lines if "distributed.cli.dask_worker" in line)
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker ")
    assert "--resources" not in worker
    if kind == "lsf":
        assert '#BSUB -gpu "num=1"' in lines


def test_batch_jobs_with_gpus_offer_one_gpu_per_worker(jobqueue_config):
    script = job_script("slurm", GradingSettings(cluster="slurm", gpus=2))
    assert "--resources GPU=1" in script
    assert "#SBATCH -p hpc" in script.splitlines()  # the config's queue when --queue is not given


def test_batch_jobs_without_cores_and_memory_fail_in_one_line():
    with dask.config.set({"jobqueue.pbs.cores": None, "jobqueue.pbs.memory": None}):
        with pytest.raises(CourseError, match="set jobqueue.pbs.cores and jobqueue.pbs.memory"):
            job_script("pbs", GradingSettings(cluster="pbs"))


def test_cluster_without_its_batch_system_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bsub here
    with pytest.raises(CourseError, match="LSF's `bsub`, which is not on PATH"):
        list(run_all(_record, [("cpu", 0)], GradingSettings(cluster="lsf")))


def test_scheduler_and_cluster_together_fail_in_one_line():
    settings = GradingSettings(cluster="slurm", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(CourseError, match="not both"):
        list(run_all(_record, [("cpu", 0)], settings))


def _record(kind: str, seconds: float) -> tuple[str, float, float, str | None]:
    """A stand-in for grading one notebook: when it ran, and which GPU it saw."""
    start = time.time()
    time.sleep(seconds)
    return kind, start, time.time(), os.environ.get("CUDA_VISIBLE_DEVICES")


def _note_process(folder: str) -> None:
    """A stand-in for the cleanup after the last job: leaves a file named after its process."""
    (Path(folder) / str(os.getpid())).touch()


@pytest.mark.parametrize("workers", [1, 2])
def test_the_cleanup_runs_in_every_process_that_ran_jobs(workers, tmp_path):
    settings = GradingSettings(workers=workers)
    cleanup = functools.partial(_note_process, str(tmp_path))
    pids = set(run_all(os.getpid, [()] * 12, settings, cleanup=cleanup))
    cleaned = {int(p.name) for p in tmp_path.iterdir()}
    assert pids <= cleaned
    assert (os.getpid() in pids) == (workers == 1)


@pytest.mark.slow
def test_a_class_graded_on_workers_leaves_no_kernel_folder_behind(tmp_path, monkeypatch):
    # Each worker starts the kernel of its next notebook ahead; after its last, that one is stopped.
    from synthetic import write_quiz_class, write_quiz_course

    from autograder.grade import grade_assignment

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # the forked workers inherit it
    course = write_quiz_course(tmp_path / "course")
    rows = write_quiz_class(course, tmp_path / "class", count=10)
    grades = grade_assignment(
        course, "quiz", tmp_path / "class", tmp_path / "out", settings=GradingSettings(workers=2)
    )
    assert sorted(g.score for g in grades) == sorted(float(row["score"]) for row in rows)
    assert [p.name for p in scratch.iterdir() if p.name.startswith("autograder-")] == []


def _overlapping(runs: list[tuple], moment: float) -> list[tuple]:
    return [run for run in runs if run[1] <= moment < run[2]]


@pytest.mark.slow
def test_at_most_k_gpu_notebooks_at_once_each_on_its_own_gpu():
    jobs = [("gpu", 1.0)] * 6 + [("cpu", 0.5)] * 6
    settings = GradingSettings(workers=3, gpus=2)
    runs = list(run_all(_record, jobs, settings, needs_gpu=lambda args: args[0] == "gpu"))
    assert sorted(run[0] for run in runs) == sorted(job[0] for job in jobs)
    gpu_runs = [run for run in runs if run[0] == "gpu"]
    cpu_runs = [run for run in runs if run[0] == "cpu"]
    for run in gpu_runs:
        at_once = _overlapping(gpu_runs, run[1])
        assert len(at_once) <= 2, at_once
        assert len({other[3] for other in at_once}) == len(at_once), "two GPU notebooks on one device"
    assert {run[3] for run in gpu_runs} == {"0", "1"}
    # The CPU-only worker graded while both GPUs were busy.
    assert any(len(_overlapping(gpu_runs, run[1])) == 2 for run in cpu_runs)


def _fragile(kind: str) -> str:
    """A stand-in for grading one notebook that raises, or takes its whole worker process down."""
    if kind == "raises":
        raise ValueError("the job's own fault")
    if kind == "kills":
        # Once the quick jobs are done: the scheduler, allowed no failure here, would fail any job
        # still queued on the worker this one takes down.
        time.sleep(1.0)
        os._exit(1)
    return kind


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2], ids=["here", "dask"])
def test_a_job_that_raises_or_kills_its_worker_is_one_failure_and_the_others_finish(workers):
    jobs = [("ok",)] * 8 + [("raises",)] + ([("kills",)] if workers > 1 else [])
    failures = lambda args, error: f"failed {args[0]}: {type(error).__name__}"  # noqa: E731
    # distributed retries a job whose worker died; once is enough here.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        results = list(run_all(_fragile, jobs, GradingSettings(workers=workers), on_failure=failures))
    expected = ["ok"] * 8 + ["failed raises: ValueError"]
    if workers > 1:
        expected.append("failed kills: KilledWorker")
    assert sorted(results) == sorted(expected)


def test_gpu_notebooks_run_on_the_cpu_without_gpus():
    jobs = [("gpu", 0.0), ("cpu", 0.0)]
    runs = list(run_all(_record, jobs, GradingSettings(), needs_gpu=lambda args: args[0] == "gpu"))
    assert [run[0] for run in runs] == ["gpu", "cpu"]


FAKE_DEVICES = ["/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"]


def test_sandbox_binds_the_gpus_only_for_gpu_notebooks(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "nvidia_devices", lambda: FAKE_DEVICES)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    cpu = sandbox_prefix(tmp_path, KernelLimits())
    assert not any("nvidia" in arg for arg in cpu)
    assert "CUDA_VISIBLE_DEVICES" not in cpu
    gpu = sandbox_prefix(tmp_path, KernelLimits(), gpu=True)
    for device in FAKE_DEVICES:
        at = gpu.index(device)
        assert gpu[at - 1 : at + 2] == ["--dev-bind", device, device]
        assert at > gpu.index("--dev"), "bound before the private /dev, which would hide it"
    assert gpu[gpu.index("CUDA_VISIBLE_DEVICES") + 1] == "1"
    # CUDA reserves address space by the terabyte: a GPU kernel's memory limit is on data.
    assert any(arg.startswith("--as=") for arg in cpu)
    assert any(arg.startswith("--data=") for arg in gpu) and not any(arg.startswith("--as=") for arg in gpu)


def test_sandbox_binds_nothing_on_a_machine_without_gpus(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "nvidia_devices", lambda: [])
    assert "--dev-bind" not in sandbox_prefix(tmp_path, KernelLimits(), gpu=True)


def test_the_torch_assignments_are_marked_as_gpu_notebooks(course):
    """A notebook that imports torch is marked for a GPU, and one that does not (NumPy only) is not."""
    import re

    import nbformat

    for assignment in course.assignments():
        source = nbformat.read(course.source_root / assignment / f"{assignment}.ipynb", as_version=4)
        code = "\n".join(c.source for c in source.cells if c.cell_type == "code")
        uses_torch = re.search(r"^\s*(import torch|from torch\b)", code, re.MULTILINE) is not None
        assert needs_gpu(source) == uses_torch, assignment


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """`sbatch` and `scancel` that run a job script at once on this machine, in its own process group."""
    bin_dir, jobs = tmp_path / "bin", tmp_path / "jobs"
    bin_dir.mkdir()
    jobs.mkdir()
    (bin_dir / "sbatch").write_text(
        "#!/bin/sh\n"
        f'script={jobs}/job-$$.sh; cp "$1" "$script"\n'  # dask-jobqueue deletes its file on return
        'setsid sh "$script" >/dev/null 2>&1 </dev/null &\n'
        f'echo $! >> {jobs}/pids; echo "Submitted batch job $!"\n'
    )
    (bin_dir / "scancel").write_text('#!/bin/sh\nkill -- -"$1" 2>/dev/null; exit 0\n')
    for command in bin_dir.iterdir():
        command.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with dask.config.set({"jobqueue.slurm.cores": 1, "jobqueue.slurm.memory": "2GB"}):
        yield jobs
    for pid in (jobs / "pids").read_text().split() if (jobs / "pids").exists() else []:
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except ProcessLookupError:  # scancel ended it, as it should
            pass


@pytest.mark.slow
def test_grading_jobs_run_on_the_workers_of_submitted_batch_jobs(fake_slurm):
    settings = GradingSettings(cluster="slurm", jobs=2)
    pids = list(run_all(os.getpid, [()] * 4, settings))
    assert len(pids) == 4 and os.getpid() not in pids
    assert len((fake_slurm / "pids").read_text().split()) == 2


def test_jobs_the_batch_system_refuses_fail_in_one_line(fake_slurm):
    (fake_slurm.parent / "bin" / "sbatch").write_text(
        "#!/bin/sh\necho 'sbatch: error: invalid partition specified: gpux' >&2\nexit 1\n"
    )
    settings = GradingSettings(cluster="slurm", queue="gpux")
    with pytest.raises(
        CourseError, match=r"Slurm did not take the jobs: `sbatch` failed \(sbatch: error: invalid"
    ):
        list(run_all(os.getpid, [()], settings))


def test_cli_cluster_without_its_batch_system_says_so_in_one_line(monkeypatch, tmp_path):
    from click.testing import CliRunner
    from conftest import REPO

    from autograder.cli import cli

    monkeypatch.setenv("PATH", str(tmp_path))
    arguments = ["grade", "warmup", str(REPO / "demo" / "warmup"), "--out", str(tmp_path / "out")]
    arguments += ["--course", str(REPO), "--cluster", "lsf", "--unsafe-no-sandbox"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("Error: --cluster lsf needs LSF's `bsub`")
    assert "Traceback" not in result.output
