"""A red-team corpus: ways a student with a week and the Python documentation might try to earn points
they did not, each a piece of code placed in the first answer cell of a notebook.

Each technique is written for any assignment (it does not know the answers' names). The tests in
`tests/test_redteam.py` put each one into the blank release of every assignment and check that it
earns nothing a blank notebook does not, and that the teacher's report lists it; `HONEST` are
look-alikes that use the same tools for honest reasons and must keep full marks.
"""

# Wraps every function the student's cell defined, so that the wrapper returns `value` instead.
_WRAP_ANSWERS = """
import inspect as _inspect
for _name, _function in list(globals().items()):
    if _inspect.isfunction(_function) and _function.__module__ == "__main__" and not _name.startswith("_"):
        globals()[_name] = (lambda _f: lambda *args, **kwargs: {value})(_function)
"""

TECHNIQUES = {
    # IPython's own hooks rewrite what later cells run.
    "rewrites-every-later-cell": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    "rewrites-the-test-cells": (
        "def _skip_tests(lines):\n"
        "    text = ''.join(lines)\n"
        "    return ['pass\\n'] if 'observe(' in text or 'assert' in text else lines\n"
        "get_ipython().input_transformers_cleanup.append(_skip_tests)"
    ),
    "drops-asserts-and-raises": (
        "import ast\n"
        "class _Drop(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n"
        "        return ast.Pass()\n"
        "    def visit_Raise(self, node):\n"
        "        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(_Drop())"
    ),
    "hooks-every-cell": (
        "import numpy\n"
        "def _patch(*args):\n"
        "    numpy.allclose = lambda *a, **k: True\n"
        "    numpy.array_equal = lambda *a, **k: True\n"
        "get_ipython().events.register('pre_run_cell', _patch)"
    ),
    "swallows-every-error": "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
    # The shell and the kernel: replace how a cell runs or how its end is reported.
    "replaces-run-cell": (
        "_shell = get_ipython()\n"
        "_run_cell, _run_cell_async = _shell.run_cell, _shell.run_cell_async\n"
        "_shell.run_cell = lambda raw_cell, *args, **kwargs: _run_cell('pass', *args, **kwargs)\n"
        "_shell.run_cell_async = lambda raw_cell, *args, **kwargs: _run_cell_async('pass', *args, **kwargs)"
    ),
    "replaces-the-kernels-execute": (
        "_kernel = get_ipython().kernel\n"
        "async def _do_execute(code, silent, *args, **kwargs):\n"
        "    return {'status': 'ok', 'execution_count': _kernel.execution_count, 'payload': [], 'user_expressions': {}}\n"
        "_kernel.do_execute = _do_execute"
    ),
    "patches-the-kernel-class": (
        "import ipykernel.ipkernel\n"
        "_original = ipykernel.ipkernel.IPythonKernel.do_execute\n"
        "async def _do_execute(self, code, *args, **kwargs):\n"
        "    reply = await _original(self, code, *args, **kwargs)\n"
        "    return dict(reply, status='ok')\n"
        "ipykernel.ipkernel.IPythonKernel.do_execute = _do_execute"
    ),
    "forges-the-execute-reply": (
        "_session = get_ipython().kernel.session\n"
        "_send = _session.send\n"
        "def _forged(stream, msg_or_type, content=None, *args, **kwargs):\n"
        "    if msg_or_type == 'execute_reply' and content is not None:\n"
        "        content = dict(content, status='ok')\n"
        "    return _send(stream, msg_or_type, content, *args, **kwargs)\n"
        "_session.send = _forged"
    ),
    # The guard: switch it off, or poison what it restores.
    "switches-the-guard-off": (
        "import sys, numpy\n"
        "sys.modules['_autograder_guard'].restore = lambda: None\n"
        "numpy.allclose = lambda *a, **k: True"
    ),
    "poisons-the-guards-snapshot": (
        "import gc, numpy\n"
        "_fake = lambda *a, **k: True\n"
        "for _held in gc.get_objects():\n"
        "    if isinstance(_held, dict) and _held.get('allclose') is numpy.allclose and _held is not vars(numpy):\n"
        "        _held['allclose'] = _fake\n"
        "numpy.allclose = _fake"
    ),
    "thread-keeps-patching": (
        "import threading, time, numpy\n"
        "def _keep_patching():\n"
        "    while True:\n"
        "        numpy.allclose = lambda *a, **k: True\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=_keep_patching, daemon=True).start()"
    ),
    "fakes-numpy-in-sys-modules": (
        "import sys, types\n"
        "_fake = types.ModuleType('numpy')\n"
        "_fake.__getattr__ = lambda name: (lambda *a, **k: True)\n"
        "sys.modules['numpy'] = _fake"
    ),
    "patches-builtins": (
        "import builtins\n"
        "builtins.isinstance = lambda *args: True\n"
        "builtins.NotImplementedError = type('NotImplementedError', (Warning,), {})"
    ),
    "curses-a-type-with-ctypes": (
        "import ctypes, numpy\n"
        "_real = ctypes.py_object.from_address(id(numpy.ndarray.__dict__) + 2 * ctypes.sizeof(ctypes.c_void_p)).value\n"
        "_real['__eq__'] = lambda a, b: True\n"
        "ctypes.pythonapi.PyType_Modified(ctypes.py_object(numpy.ndarray))"
    ),
    # The observations: hide them, forge them, or hand over values that lie about themselves.
    "silences-observe-from-a-frame": (
        "import inspect\n"
        "def _quiet(*args, **kwargs):\n"
        "    return None\n"
        "for _name, _function in list(globals().items()):\n"
        "    if inspect.isfunction(_function) and _function.__module__ == '__main__' and not _name.startswith('_'):\n"
        "        def _wrapper(*args, **kwargs):\n"
        "            inspect.currentframe().f_back.f_globals['observe'] = _quiet\n"
        "            return 0.0\n"
        "        globals()[_name] = _wrapper"
    ),
    "replaces-display-publishing": (
        "import ipykernel.zmqshell\n"
        "_publish = ipykernel.zmqshell.ZMQDisplayPublisher.publish\n"
        "def _tolerant(self, data, *args, **kwargs):\n"
        "    for payload in data.values():\n"
        "        if isinstance(payload, dict) and 'check' in payload:\n"
        "            payload['check'] = {'$dict': [['rtol', 1e300], ['atol', 1e300]]}\n"
        "    return _publish(self, data, *args, **kwargs)\n"
        "ipykernel.zmqshell.ZMQDisplayPublisher.publish = _tolerant"
    ),
    "returns-a-float-that-equals-anything": "class _Liar(float):\n    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
    + _WRAP_ANSWERS.format(value="_Liar(0.0)"),
    "returns-an-array-that-equals-anything": (
        "import numpy as _np\n"
        "class _Liar(_np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __array__(self, *args, **kwargs):\n"
        "        return _np.zeros(3)\n"
        "_liar = _np.zeros(3).view(_Liar)\n" + _WRAP_ANSWERS.format(value="_liar")
    ),
    "runs-hidden-code-through-exec": (
        "import base64\n"
        "exec(base64.b64decode('"
        # get_ipython().input_transformers_post.append(lambda lines: ['pass\n'])
        "Z2V0X2lweXRob24oKS5pbnB1dF90cmFuc2Zvcm1lcnNfcG9zdC5hcHBlbmQobGFtYmRhIGxpbmVzOiBbJ3Bhc3NcbiddKQ=="
        "').decode())"
    ),
    "exits-when-tested": (
        "import atexit, os\nget_ipython().events.register('pre_run_cell', lambda *args: os._exit(0))"
    ),
}


def forging_technique(names: list[str]) -> str:
    """A student who read last year's feedback knows the observation names: publish guesses for them
    in every later cell, and make every cell report success."""
    forged = ", ".join(repr(name) for name in names)
    return (
        "from IPython.display import publish_display_data\n"
        "_names = [" + forged + "]\n"
        "def _forge(*args):\n"
        "    for name in _names:\n"
        "        publish_display_data({'application/vnd.autograder.grading.observation+json':"
        " {'name': name, 'value': 0.0, 'check': {'$dict': [['rtol', 1e300]]}}})\n"
        "_shell = get_ipython()\n"
        "_run_cell_async = _shell.run_cell_async\n"
        "async def _run(raw_cell, *args, **kwargs):\n"
        "    _forge()\n"
        "    return await _run_cell_async('pass', *args, **kwargs)\n"
        "_shell.run_cell_async = _run"
    )


# Honest code that uses the same tools: a thread pool, an IPython hook, a magic, a subclass.
HONEST = {
    "uses-a-thread-pool": (
        "relu",
        "from concurrent.futures import ThreadPoolExecutor\n\n"
        "def relu(x):\n"
        "    with ThreadPoolExecutor(max_workers=2) as pool:\n"
        "        return pool.submit(lambda: np.maximum(x, 0).astype(x.dtype, copy=False)).result()",
    ),
    "times-cells-with-a-hook": (
        "relu",
        "import time\n"
        "_started = {}\n"
        "get_ipython().events.register('pre_run_cell', lambda info: _started.update(t=time.time()))\n\n"
        "def relu(x):\n"
        "    return np.maximum(x, 0).astype(x.dtype, copy=False)",
    ),
    "uses-a-magic": (
        "relu",
        "%load_ext autoreload\n\ndef relu(x):\n    return np.maximum(x, 0).astype(x.dtype, copy=False)",
    ),
    "uses-a-subclass": (
        "dense_relu",
        "class Layer:\n"
        "    def __call__(self, X, W, b):\n"
        "        return relu(X @ W + b)\n\n\n"
        "class Batch(np.ndarray):\n"
        "    pass\n\n\n"
        "def dense_relu(X, W, b):\n"
        "    return np.asarray(Layer()(np.asarray(X).view(Batch), W, b))",
    ),
}
"""Look-alikes for warmup: (answer grade_id, the honest code for it); the other answers are the solution's."""
