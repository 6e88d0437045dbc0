"""A throw-away PostgreSQL server on loopback for the gradebook tests (`make test` installs it)."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _server_binaries() -> Path | None:
    """The folder with initdb and pg_ctl: on PATH, or where Debian puts them."""
    initdb = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None)
    return Path(initdb).parent if initdb else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL in a temporary folder; yield its SQLAlchemy URL; stop and remove it after."""
    binaries = _server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: run `make test`, which installs it")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
    # PostgreSQL refuses to run as root; as root, run it as the `postgres` user Debian creates.
    as_user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    if as_user:
        shutil.chown(data, "postgres")
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    run(str(binaries / "initdb"), "-D", str(data / "db"), "-U", "grader", "--auth=trust")
    options = f"-h 127.0.0.1 -p {port} -k {data}"
    run(
        str(binaries / "pg_ctl"),
        "-D",
        str(data / "db"),
        "-o",
        options,
        "-l",
        str(data / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql+psycopg://grader@127.0.0.1:{port}/postgres"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)
