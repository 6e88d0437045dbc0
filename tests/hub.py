"""A throw-away JupyterHub on loopback with real local users, for tests/test_jupyterhub.py.

`local_users` creates OS users (nbgrader takes the student id from the OS user, so each student
must be one) and removes them, with every process they still run, afterwards. `jupyterhub`
starts the hub from the virtual environment with the npm proxy (`make install` brings both) and
the default LocalProcessSpawner, so each student's server and kernels run as that user; it stops
the hub, the proxy and every server afterwards. `Student` logs in through the hub's REST API with
a password, as a script of the student's would, starts their own server, and runs code in a kernel
of it (websocket) and reads and writes files through its contents API.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests
import websocket

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PROXY = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
START_TIMEOUT = 120
"""Seconds the hub, a server or one command may take on a loaded 2-core machine before the test fails."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def requirements() -> list[str]:
    """What the hub test needs and is missing, each with how to get it; empty when all is there."""
    missing = []
    if os.getuid() != 0:
        missing.append("root, to create the students' OS users (run the test as root, or in CI)")
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} (Debian's passwd package)")
    for tool in ("jupyterhub", "jupyterhub-singleuser", "nbgrader"):
        if not (VENV_BIN / tool).exists():
            missing.append(f"{VENV_BIN / tool}: run `make install` (jupyterhub is in requirements.in)")
    if not PROXY.exists():
        missing.append(f"{PROXY}: run `make install` (npm ci; configurable-http-proxy is in package.json)")
    return missing


@contextmanager
def traversable_for_everyone(*paths: Path) -> Iterator[None]:
    """Let every user traverse the folders above `paths` (o+x) while inside; put the modes back after.

    The students' servers run the virtual environment's Python, whose interpreter may live under a
    private home folder (pyenv's under /root, which is 0700), and a checkout may too. Only the
    execute bit is added, never reading: the folders' listings stay private.
    """
    changed = {}
    # Both the path as named and where its links lead: the venv's python links into pyenv's tree.
    targets = [target for path in paths for target in (Path(path).absolute(), Path(path).resolve())]
    for target in targets:
        for folder in reversed(target.parents):
            mode = folder.stat().st_mode
            if folder not in changed and not mode & stat.S_IXOTH:
                folder.chmod(mode | stat.S_IXOTH)
                changed[folder] = mode
    try:
        yield
    finally:
        for folder, mode in reversed(changed.items()):
            folder.chmod(stat.S_IMODE(mode))


def interpreter_paths() -> list[Path]:
    """What a student's server must reach: the venv and the interpreter and standard library it uses."""
    return [VENV_BIN / "python", Path(sys.executable).resolve(), Path(sys.base_prefix, "lib")]


def _kill_processes_of(users: list[str]) -> None:
    """Kill what the test's users still run: servers and kernels a failed test left behind."""
    doomed = []
    for process in psutil.process_iter(["username"]):
        if process.info["username"] in users:
            doomed.append(process)
    for process in doomed:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(doomed, timeout=10)


@contextmanager
def local_users(count: int) -> Iterator[list[str]]:
    """Create `count` OS users with private home folders; yield their names; remove them after.

    Homes are 0700: nbgrader keeps each submission's secret, which names the feedback file in the
    exchange, in the student's own ~/.local/share/jupyter/nbgrader_cache, and Debian's default home
    mode (0755) would let every student read every other's.
    """
    tag = secrets.token_hex(3)
    names = [f"hubst{tag}{chr(ord('a') + n)}" for n in range(count)]
    created = []
    try:
        for name in names:
            subprocess.run(
                ["useradd", "--create-home", "--key", "HOME_MODE=0700", "--shell", "/bin/bash", name],
                check=True,
                capture_output=True,
            )
            created.append(name)
        yield names
    finally:
        _kill_processes_of(created)
        for name in created:
            subprocess.run(["userdel", "--remove", name], capture_output=True)


def _hub_config(folder: Path, users: list[str], password: str, ports: dict, environment: dict) -> str:
    spawner_env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", **environment}
    return f"""
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{ports["public"]}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {ports["hub"]}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.ConfigurableHTTPProxy.auth_token = {secrets.token_hex(16)!r}
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {set(users)!r}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{str(VENV_BIN / "jupyterhub-singleuser")!r}]
c.Spawner.environment = {spawner_env!r}
c.Spawner.start_timeout = {START_TIMEOUT}
c.Spawner.http_timeout = {START_TIMEOUT}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
"""


class Hub:
    """A running hub: its public address and the shared password its students log in with."""

    def __init__(self, url: str, password: str, log: Path) -> None:
        self.url = url
        self.password = password
        self.log = log

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def login(self, user: str) -> "Student":
        """Log in as `user` (the hub's authenticator checks the password); ask for their server.

        The server starts in the background: `Student.wait_for_server` waits for it.
        """
        response = requests.post(
            f"{self.url}/hub/api/users/{user}/tokens",
            json={"auth": {"username": user, "password": self.password}, "note": "test"},
            timeout=30,
        )
        assert response.status_code in (200, 201), f"login of {user}: {response.status_code} {response.text}"
        student = Student(self, user, response.json()["token"])
        student.start_server()
        return student


@contextmanager
def jupyterhub(folder: Path, users: list[str], environment: dict[str, str]) -> Iterator[Hub]:
    """Run JupyterHub on free loopback ports for `users`; yield it; stop it and all it started."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ports = {"public": free_port(), "hub": free_port(), "proxy_api": free_port()}
    password = secrets.token_hex(16)
    config = folder / "jupyterhub_config.py"
    config.write_text(_hub_config(folder, users, password, ports, environment))
    log = folder / "jupyterhub.log"
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(config)],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one below
        )
    hub = Hub(f"http://127.0.0.1:{ports['public']}", password, log)
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"jupyterhub exited with {process.returncode}:\n{hub.log_tail()}")
            try:
                if requests.get(f"{hub.url}/hub/api", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"jupyterhub did not answer in {START_TIMEOUT} s:\n{hub.log_tail()}")
            time.sleep(0.5)
        yield hub
    finally:
        try:  # the proxy and the servers run in sessions of their own: note them before the hub goes
            started = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the hub stops its servers and the proxy on SIGTERM
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for child in started:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(started, timeout=10)


class Student:
    """A logged-in student: their token, their server's address, one kernel of it."""

    def __init__(self, hub: Hub, name: str, token: str) -> None:
        self.hub = hub
        self.name = name
        self.token = token
        self.headers = {"Authorization": f"token {token}"}
        self.server = f"{hub.url}/user/{name}"
        self.kernel_id: str | None = None

    def start_server(self) -> None:
        response = requests.post(
            f"{self.hub.url}/hub/api/users/{self.name}/server", headers=self.headers, timeout=30
        )
        assert response.status_code in (201, 202), (
            f"{self.name}'s server: {response.status_code} {response.text}"
        )

    def wait_for_server(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            model = requests.get(
                f"{self.hub.url}/hub/api/users/{self.name}", headers=self.headers, timeout=30
            )
            server = model.json().get("servers", {}).get("", {})
            if server.get("ready"):
                return
            if time.monotonic() > deadline or not server.get("pending") and not server:
                raise AssertionError(
                    f"{self.name}'s server did not start: {model.text}\n{self.hub.log_tail()}"
                )
            time.sleep(0.5)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.server}/api/{path}", headers=self.headers, timeout=60, **kwargs
        )

    def put_notebook(self, path: str, notebook: dict) -> None:
        """Save a notebook into the student's home, as the editor's *Save* does."""
        response = self.api(
            "PUT", f"contents/{path}", json={"type": "notebook", "format": "json", "content": notebook}
        )
        assert response.status_code in (200, 201), f"saving {path}: {response.status_code} {response.text}"

    def read_text(self, path: str) -> str:
        response = self.api("GET", f"contents/{path}", params={"type": "file", "format": "text"})
        assert response.status_code == 200, f"reading {path}: {response.status_code} {response.text}"
        return response.json()["content"]

    def listing(self, path: str) -> list[str]:
        response = self.api("GET", f"contents/{path}")
        assert response.status_code == 200, f"listing {path}: {response.status_code} {response.text}"
        return sorted(item["name"] for item in response.json()["content"])

    def execute(self, code: str) -> str:
        """Run `code` in the student's kernel (started on first use); return what it printed."""
        if self.kernel_id is None:
            response = self.api("POST", "kernels", json={"name": "python3"})
            assert response.status_code == 201, (
                f"{self.name}'s kernel: {response.status_code} {response.text}"
            )
            self.kernel_id = response.json()["id"]
        channels = self.server.replace("http://", "ws://") + f"/api/kernels/{self.kernel_id}/channels"
        connection = websocket.create_connection(
            channels, header=[f"Authorization: token {self.token}"], timeout=START_TIMEOUT
        )
        msg_id = uuid.uuid4().hex
        connection.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": uuid.uuid4().hex,
                        "username": self.name,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        printed, error = [], None
        try:
            while True:
                message = json.loads(connection.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = message["header"]["msg_type"]
                if kind == "stream":
                    printed.append(message["content"]["text"])
                elif kind == "error":
                    error = f"{message['content']['ename']}: {message['content']['evalue']}"
                elif kind == "status" and message["content"]["execution_state"] == "idle":
                    break
        finally:
            connection.close()
        assert error is None, f"in {self.name}'s kernel: {error}\n{''.join(printed)}"
        return "".join(printed)

    def shell(self, *args: str) -> subprocess.CompletedProcess:
        """Run a command from the kernel, as `!nbgrader ...` in a notebook cell would; return its result."""
        code = (
            "import json, subprocess\n"
            f"r = subprocess.run({list(args)!r}, capture_output=True, text=True)\n"
            "print(json.dumps([r.returncode, r.stdout, r.stderr]))\n"
        )
        returncode, stdout, stderr = json.loads(self.execute(code).strip().splitlines()[-1])
        return subprocess.CompletedProcess(list(args), returncode, stdout, stderr)
