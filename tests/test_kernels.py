"""The grading kernels' client: ready only when both the shell and IOPub channels work."""

import asyncio
import signal

import pytest

from autograder.grading.kernels import Kernel, PromptKernelClient, Recipe


async def _first_output(kernel: Kernel) -> str:
    """What a fresh client, straight after its readiness wait, receives from the first cell it runs."""
    client = kernel.manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=30)
        printed = []

        def keep(message: dict) -> None:
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])

        await client.execute_interactive("print('first cell')", timeout=30, output_hook=keep)
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
