"""A corpus of hostile hand-ins: notebooks made to crash, flood or exhaust the grader, one per kind.

Each is a hand-in of the warm-up, built from the blank release or from its raw JSON. The tests in
`tests/test_hostile.py` grade them in one class beside the demo class's honest hand-ins.
"""

import json
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
RELEASE = REPO / "assignments" / "warmup" / "warmup.ipynb"

MARKUP = '"><script>alert("student")</script><h1>Score: 7 / 7</h1>'
"""What a student would like a page to show and run; no page may hold it unescaped."""

# Code put into the first answer cell, each a way to hurt the grading machine from inside the kernel.
KERNEL_SIDE = {
    "deep-folder-tree": (
        "import os\n"
        "top = os.open('.', os.O_RDONLY)\n"
        "for _ in range(3000):\n"
        "    os.mkdir('d')\n"
        "    os.chdir('d')\n"
        "os.fchdir(top)"
    ),
    "huge-integer": (
        "import sys\n"
        "sys.set_int_max_str_digits(0)\n"
        "from IPython.display import display\n"
        "display({'application/json': {'n': 10**20000}}, raw=True)"
    ),
    "lone-surrogate-output": (
        "from IPython.display import display\n"
        "print('\\ud800 and \\udcff')\n"
        "display({'text/plain': '\\ud800', 'text/html': '<b>\\udfff</b>'}, raw=True)\n"
        "raise ValueError('\\ud83d')"
    ),
    "error-flood": (
        "ip = get_ipython()\n"
        "for _ in range(3000):\n"
        "    try:\n"
        "        raise ValueError('x' * 100_000)\n"
        "    except ValueError:\n"
        "        ip.showtraceback()\n"
        "raise ValueError('y' * 20_000_000)"
    ),
    "tmpfs-filler": (
        "import os\n"
        "block = b'x' * 2**20\n"
        "for folder in ('/tmp', '/dev/shm', '/', '/dev'):\n"
        "    try:\n"
        "        with open(os.path.join(folder, 'filler'), 'wb') as f:\n"
        "            for _ in range(8 * 1024):\n"
        "                f.write(block)\n"
        "    except OSError as error:\n"
        "        print(folder, error)"
    ),
    "many-small-files": (
        "import os\nos.mkdir('many')\nfor n in range(200_000):\n    open(f'many/{n}', 'w').close()"
    ),
    "image-with-markup": (
        "from IPython.display import display\n"
        f"markup = {MARKUP!r}\n"
        "display({'image/png': markup, 'image/svg+xml': markup, 'text/html': markup,"
        " 'text/markdown': markup, 'text/plain': markup}, raw=True)\n"
        "print(markup)\n"
        "raise ValueError(markup)"
    ),
}


def _release() -> dict:
    return json.loads(RELEASE.read_text())


def _with_first_answer(code: str) -> dict:
    notebook = _release()
    first = next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution"))
    first["source"] = code
    return notebook


def _grade_id_a_list() -> dict:
    notebook = _release()
    for cell in notebook["cells"]:
        if "nbgrader" in cell["metadata"]:
            cell["metadata"]["nbgrader"]["grade_id"] = [cell["metadata"]["nbgrader"]["grade_id"], 1]
    return notebook


def _deep_json() -> bytes:
    notebook = _release()
    text = json.dumps(notebook)
    deep = "[" * 100_000 + "]" * 100_000
    return text.replace('"metadata": {', f'"metadata": {{"deep": {deep}, ', 1).encode()


def _surrogate_in_source() -> bytes:
    notebook = _with_first_answer("x = 1  # \\ud800")
    return json.dumps(notebook).replace("\\\\ud800", "\\ud800").encode()


def hostile_hand_ins() -> dict[str, bytes]:
    """{student id: notebook file content} for every kind of hostile hand-in."""
    hand_ins = {
        f"x-{name}": json.dumps(_with_first_answer(code)).encode() for name, code in KERNEL_SIDE.items()
    }
    hand_ins["x-grade-id-a-list"] = json.dumps(_grade_id_a_list()).encode()
    hand_ins["x-deep-json"] = _deep_json()
    hand_ins["x-lone-surrogate-source"] = _surrogate_in_source()
    hand_ins["x-markup-in-markdown"] = json.dumps(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(MARKUP)])
    ).encode()
    return hand_ins
