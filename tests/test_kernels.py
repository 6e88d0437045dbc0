"""The grading kernels: their client ready only when both the shell and IOPub channels work, their
numerical libraries held to their share of the cores."""

import asyncio
import signal

import pytest

from autograder.core.config import GradingSettings
from autograder.grading.kernels import Kernel, PromptKernelClient, Recipe
from autograder.grading.parallel import runs_here


async def _first_output(kernel: Kernel, code: str = "print('first cell')") -> str:
    """What a fresh client, straight after its readiness wait, gets printed by the first cell it runs."""
    client = kernel.manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=30)
        printed = []

        def keep(message: dict) -> None:
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])

        await client.execute_interactive(code, timeout=60, output_hook=keep)
        return "".join(printed)
    finally:
        client.stop_channels()


def test_a_fresh_client_is_ready_and_gets_its_first_cells_output():
    # Five clients in a row: the first on a kernel just started, the others on one long up.
    async def run() -> list[str]:
        kernel = Kernel(Recipe(sandbox=False))
        await kernel.start()
        try:
            assert isinstance(kernel.manager.client(), PromptKernelClient)
            return [await _first_output(kernel) for _ in range(5)]
        finally:
            await kernel.close()

    assert asyncio.run(run()) == ["first cell\n"] * 5


def test_waiting_on_a_dead_kernel_fails_instead_of_hanging():
    async def run() -> None:
        kernel = Kernel(Recipe(sandbox=False))
        await kernel.start()
        try:
            await kernel.manager.signal_kernel(signal.SIGKILL)
            await asyncio.sleep(0.2)
            client = kernel.manager.client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=5)
            finally:
                client.stop_channels()
        finally:
            await kernel.close()

    with pytest.raises(RuntimeError, match="died|respond"):
        asyncio.run(run())


def test_kernels_share_the_cores_among_the_workers(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert GradingSettings(workers=4).kernel_threads == 4
    assert GradingSettings(workers=32).kernel_threads == 1
    assert GradingSettings(workers=4, scheduler="tcp://head:8786").kernel_threads == 0  # its machines' own


@pytest.mark.parametrize("sandbox", [True, False])
def test_a_kernel_keeps_its_numerical_libraries_to_its_threads(sandbox):
    async def run() -> str:
        kernel = Kernel(Recipe(sandbox=sandbox, threads=1))
        await kernel.start()
        try:
            code = "import os, torch; print(os.environ['OPENBLAS_NUM_THREADS'], torch.get_num_threads())"
            return await _first_output(kernel, code)
        finally:
            await kernel.close()

    assert asyncio.run(run()) == "1 1\n"


def test_a_batch_graded_here_one_at_a_time_gives_its_kernels_every_core():
    assert runs_here(GradingSettings(workers=4), jobs=3)  # too few to start workers for
    assert not runs_here(GradingSettings(workers=4), jobs=30)
    assert not runs_here(GradingSettings(workers=1, scheduler="tcp://head:8786"), jobs=3)
