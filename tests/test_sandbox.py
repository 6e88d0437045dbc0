"""Can a hostile or crashing hand-in read what it must not, reach the network, or stop the batch?

Each hand-in below answers `relu` with an attack and the other two parts correctly. `dense_relu`
calls `relu`, so a blocked attack leaves 2 of 7 points (relu_derivative) and a leak would show as 7.
Grading the whole corpus in one batch must give every student a row, none more than those 2
points, and leave the grader and the rest of the batch unharmed.
"""

import http.server
import subprocess
import threading

import nbformat
import pytest
from conftest import REPO

from autograder.core.config import GradingSettings
from autograder.grade import grade_assignment
from autograder.grading import sandbox
from autograder.grading.sandbox import (
    SandboxUnavailable,
    check_sandbox,
    make_cgroup,
    memory_cgroups,
    remove_cgroup,
)

SOLUTION = REPO / "source_notebooks" / "warmup" / "warmup.ipynb"

# Each attack, if it works, defines a correct relu (so a leak would show as 2 extra points).
CORRECT = "def relu(x):\n    return np.maximum(x, 0).astype(x.dtype)"
ATTACKS = {
    "reads-solutions": f"exec(open({str(SOLUTION)!r}).read()[0:0])\n{CORRECT}",
    "reads-home": f"import os\nassert os.listdir(os.path.expanduser('~root')) or True\nopen('/root/.bashrc').read()\n{CORRECT}",
    "network": "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}', timeout=3).read()\n"
    + CORRECT,
    "fork-bomb": "import os\nfor _ in range(100000):\n    if os.fork() == 0:\n        while True:\n            pass\n"
    + CORRECT,
    "memory-hog": "hog = bytearray(16 * 1024**3)\n" + CORRECT,
    "segfault": "import ctypes\nctypes.string_at(0)\n" + CORRECT,
    "exits-kernel": "import os\nos._exit(0)\n" + CORRECT,
    "endless-output": "while True:\n    print('x' * 10000)\n" + CORRECT,
}

# What the grader records: blocked attacks just fail their part; crashes and runaways are named.
EXPECTED_STATUS = {
    "reads-solutions": {"graded"},
    "reads-home": {"graded"},
    "network": {"graded"},
    "memory-hog": {"graded"},
    # A fork bomb either kills the kernel or leaves it too busy to answer: both end the notebook.
    "fork-bomb": {"kernel-died", "timeout"},
    "segfault": {"kernel-died"},
    "exits-kernel": {"kernel-died"},
    "endless-output": {"timeout"},
}


@pytest.fixture(scope="module")
def local_server():
    """A web server on loopback that a sandboxed kernel must not reach."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def hostile(relu_source: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(SOLUTION, as_version=4)
    for cell in notebook.cells:
        if cell.metadata["nbgrader"]["grade_id"] == "relu":
            cell.source = relu_source
    return notebook


@pytest.mark.slow
def test_a_hostile_class_earns_nothing_from_its_attacks(course, make_class, tmp_path, local_server):
    hand_ins = {name: hostile(code.replace("{port}", str(local_server))) for name, code in ATTACKS.items()}
    hand_ins["honest"] = nbformat.read(SOLUTION, as_version=4)
    settings = GradingSettings(cell_timeout=10, notebook_timeout=60)
    grades = {
        g.student_id: g
        for g in grade_assignment(course, "warmup", make_class(hand_ins), tmp_path / "o", settings=settings)
    }

    assert set(grades) == set(hand_ins), "every hand-in gets a row"
    assert grades["honest"].score == 7.0, "the batch is unharmed after the attacks"
    for name in ATTACKS:
        assert grades[name].score <= 2.0, f"{name} gained points: {grades[name].parts}"
    for name, statuses in EXPECTED_STATUS.items():
        assert grades[name].status in statuses, (name, grades[name].status, grades[name].message)
        if statuses == {"graded"}:
            assert grades[name].score == 2.0, f"{name}: the parts after the attack still count"


def test_grading_refuses_without_a_sandbox_unless_told(course, make_class, tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    sandbox._probe.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
            check_sandbox()
        submissions = make_class({"teacher": SOLUTION})
        with pytest.raises(SandboxUnavailable):
            grade_assignment(course, "warmup", submissions, tmp_path / "o")
        [grade] = grade_assignment(
            course, "warmup", submissions, tmp_path / "o", settings=GradingSettings(sandbox=False)
        )
        assert grade.score == 7.0
        assert "Graded without the sandbox" in (tmp_path / "o" / "report.html").read_text()
    finally:
        sandbox._probe.cache_clear()


@pytest.mark.skipif(memory_cgroups() is None, reason="this machine lets the grader make no memory cgroups")
def test_a_cgroup_still_busy_is_left_for_later_not_raised(monkeypatch):
    # On a loaded machine a kernel's killed processes may outlast the wait; the notebook's grade
    # must not be lost over its cgroup, which the next removal takes away.
    monkeypatch.setattr(sandbox, "REMOVE_CGROUP_SECONDS", 0)
    busy = make_cgroup(memory_cgroups(), "autograder-test-busy", 64 * 1024**2)
    process = subprocess.Popen(["sleep", "60"])
    (busy / "cgroup.procs").write_text(str(process.pid))
    remove_cgroup(busy)  # SIGKILL sent; the process has not left yet
    assert busy.exists() and busy in sandbox._left_behind
    process.wait()
    remove_cgroup(make_cgroup(memory_cgroups(), "autograder-test-idle", 64 * 1024**2))
    assert not busy.exists() and sandbox._left_behind == []
