"""Does grading of the nanograd assignment tell a correct hand-in from a wrong one, however it is written?

Each hand-in below is the source notebook with some answer cells replaced: an alternative correct
implementation written in another style must score full marks, and each typical mistake must lose
exactly the parts that test what it breaks, with feedback that names the problem. All hand-ins are
graded in one batch, as a teacher would grade a class.
"""

import pytest
from conftest import REPO
from hand_ins import Mistake, check_grading

SOURCE = REPO / "source_notebooks" / "nanograd" / "nanograd.ipynb"
NOTEBOOK = "nanograd.ipynb"

# An alternative correct solution: an operation table instead of derivatives stored at forward
# time, Kahn's algorithm (counting each node's users) instead of a depth-first topological sort,
# a stable sigmoid written with tanh, PyTorch-style uniform initialisation (biases too), NumPy
# seeds, and loops written differently.
ALTERNATIVE = {
    "var": """
FORWARD = {
    "add": lambda a, b, k: a + b,
    "sub": lambda a, b, k: a - b,
    "mul": lambda a, b, k: a * b,
    "div": lambda a, b, k: a / b,
    "pow": lambda a, k: a**k,
    "neg": lambda a, k: -a,
    "exp": lambda a, k: math.exp(a),
    "log": lambda a, k: math.log(a),
    "relu": lambda a, k: a if a > 0 else 0.0,
    "tanh": lambda a, k: math.tanh(a),
    "sigmoid": lambda a, k: 0.5 * (1.0 + math.tanh(0.5 * a)),
}
# d output / d each input, from the input values, the output value and the constant k.
LOCAL = {
    "add": lambda a, b, out, k: (1.0, 1.0),
    "sub": lambda a, b, out, k: (1.0, -1.0),
    "mul": lambda a, b, out, k: (b, a),
    "div": lambda a, b, out, k: (1.0 / b, -a / (b * b)),
    "pow": lambda a, out, k: (k * a ** (k - 1) if k != 0 else 0.0,),
    "neg": lambda a, out, k: (-1.0,),
    "exp": lambda a, out, k: (out,),
    "log": lambda a, out, k: (1.0 / a,),
    "relu": lambda a, out, k: (1.0 if a > 0 else 0.0,),
    "tanh": lambda a, out, k: (1.0 - out * out,),
    "sigmoid": lambda a, out, k: (out * (1.0 - out),),
}


def lift(x):
    return x if isinstance(x, Var) else Var(x)


class Var:
    def __init__(self, value, op=None, inputs=(), k=None):
        self.v, self.grad = float(value), 0.0
        self.op, self.inputs, self.k = op, tuple(inputs), k

    def apply(self, op, *others, k=None):
        inputs = (self, *map(lift, others))
        return Var(FORWARD[op](*(x.v for x in inputs), k), op, inputs, k)

    __add__ = lambda self, o: self.apply("add", o)
    __radd__ = lambda self, o: lift(o).apply("add", self)
    __sub__ = lambda self, o: self.apply("sub", o)
    __rsub__ = lambda self, o: lift(o).apply("sub", self)
    __mul__ = lambda self, o: self.apply("mul", o)
    __rmul__ = lambda self, o: lift(o).apply("mul", self)
    __truediv__ = lambda self, o: self.apply("div", o)
    __rtruediv__ = lambda self, o: lift(o).apply("div", self)
    __pow__ = lambda self, k: self.apply("pow", k=float(k))
    __neg__ = lambda self: self.apply("neg")
    exp = lambda self: self.apply("exp")
    log = lambda self: self.apply("log")
    relu = lambda self: self.apply("relu")
    tanh = lambda self: self.apply("tanh")
    sigmoid = lambda self: self.apply("sigmoid")

    def backward(self):
        nodes, stack = {id(self): self}, [self]
        while stack:
            for x in stack.pop().inputs:
                if id(x) not in nodes:
                    nodes[id(x)] = x
                    stack.append(x)
        users = dict.fromkeys(nodes, 0)
        for node in nodes.values():
            for x in node.inputs:
                users[id(x)] += 1
        pending, ready = {id(self): 1.0}, [self]
        while ready:  # a node is ready once every node that uses it has passed its share on
            node = ready.pop()
            g = pending.pop(id(node), 0.0)
            node.grad += g
            if not node.inputs:
                continue
            for x, d in zip(node.inputs, LOCAL[node.op](*(x.v for x in node.inputs), node.v, node.k)):
                pending[id(x)] = pending.get(id(x), 0.0) + d * g
                users[id(x)] -= 1
                if users[id(x)] == 0:
                    ready.append(x)
""",
    "finite_difference": """
def finite_difference(f, xs, h=1e-5):
    def nudged(i, step):
        return [x + step if j == i else x for j, x in enumerate(xs)]

    return [(f(nudged(i, h)) - f(nudged(i, -h))) / (2 * h) for i in range(len(xs))]
""",
    "make_data": """
def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.permutation(np.linspace(-3, 3, n))
    noise = rng.normal(scale=0.1, size=n)
    return [[v] for v in x.tolist()], [[0.5 * math.sin(3 * v) + v + e] for v, e in zip(x.tolist(), noise.tolist())]
""",
    "dense_layer": """
class DenseLayer:
    def __init__(self, n_in, n_out, act=None, seed=None):
        rng = np.random.default_rng(seed)
        bound = 1 / math.sqrt(n_in)
        self.weights = [[Var(w) for w in row] for row in rng.uniform(-bound, bound, (n_in, n_out)).tolist()]
        self.bias = [Var(b) for b in rng.uniform(-bound, bound, n_out).tolist()]
        self.act = act or (lambda z: z)

    def __call__(self, x):
        columns = zip(*self.weights)
        return [self.act(sum((xi * w for xi, w in zip(x, col)), b)) for col, b in zip(columns, self.bias)]

    def parameters(self):
        return sum(self.weights, []) + self.bias
""",
    "mlp": """
class MLP:
    def __init__(self, sizes, hidden_act, out_act=None, seed=None):
        seeds = np.random.default_rng(seed).integers(0, 2**31, size=len(sizes) - 1).tolist()
        acts = [hidden_act] * (len(sizes) - 2) + [out_act]
        self.layers = [DenseLayer(a, b, act, s) for a, b, act, s in zip(sizes, sizes[1:], acts, seeds)]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]
""",
    "mse_loss": """
def mse_loss(preds, targets):
    squares = [(p - t) ** 2 for pred, target in zip(preds, targets) for p, t in zip(pred, target)]
    return sum(squares) * (1.0 / len(squares))
""",
    "optimiser": """
def zero_grad(params):
    for p in params:
        p.grad = 0.0


def sgd_step(params, lr):
    for p in params:
        p.v = p.v - lr * p.grad
""",
    "train": """
def predict(model, xs):
    return [model(list(map(Var, x))) for x in xs]


def train(model, xs, ys, epochs, lr):
    history = []
    for epoch in range(epochs):
        zero_grad(model.parameters())
        loss = mse_loss(predict(model, xs), ys)
        loss.backward()
        sgd_step(model.parameters(), lr)
        history.append(float(loss.v))
    return history


def evaluate(model, xs, ys):
    errors = [(p.v - t) ** 2 for pred, target in zip(predict(model, xs), ys) for p, t in zip(pred, target)]
    return float(np.mean(errors))
""",
}

RECURSIVE_TOPO_SORT = """order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for parent, _ in node.parents:
                    visit(parent)
                order.append(node)

        visit(self)"""

BREADTH_FIRST = """flowing = {id(self): 1.0}
        queue, seen = [self], {id(self)}
        while queue:
            node = queue.pop(0)
            g = flowing.pop(id(node), 0.0)
            node.grad += g
            for parent, local in node.parents:
                flowing[id(parent)] = flowing.get(id(parent), 0.0) + local * g
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append(parent)
        return"""

# Each mistake: the answer cell it edits, the text it replaces and by what, the parts it must lose,
# and a phrase the feedback of each lost part must contain.
MISTAKES = {
    # The local derivative of tanh written with the input instead of the output.
    "tanh-derivative": Mistake(
        "var", "1.0 - value**2", "1.0 - self.v**2", {"test_var_functions": "1 - tanh(x)**2"}
    ),
    # .grad overwritten by each backward pass instead of added to.
    "grad-overwritten": Mistake(
        "var", "node.grad += g", "node.grad = g", {"test_backward_accumulates": "+="}
    ),
    # A recursive depth-first search: right on small graphs, stops at the recursion limit on a deep one.
    "recursive-topo-sort": Mistake(
        "var",
        "order, seen, stack = [], set(), [(self, False)]",
        RECURSIVE_TOPO_SORT + "\n        stack = []",
        {"test_deep_chain": "recursion limit"},
    ),
    # Breadth-first order instead of a topological one: a node reached early passes on an incomplete
    # gradient. Trees are right (the accumulation test), graphs that reuse nodes are not, and neither
    # is the gradient of a weight shared by all training samples, so training fails too.
    "no-topological-order": Mistake(
        "var",
        "# Topological order, built with an explicit stack",
        BREADTH_FIRST + "\n        #",
        {"test_backward_graph": "reverse topological order", "test_train": "tests of part 1 pass"},
    ),
    # backward() adds to .grad, so without zero_grad every step uses the sum of all earlier gradients.
    "no-zero-grad": Mistake("train", "        zero_grad(params)\n", "", {"test_train": "zero_grad"}),
    # The loss recorded after the step (evaluated again on the updated model) instead of the loss that
    # the epoch computed before it: the training still converges, but the history is off by one step.
    "loss-after-step": Mistake(
        "train",
        "losses.append(loss.v)",
        "losses.append(evaluate(model, xs, ys))",
        {"test_train": "before sgd_step"},
    ),
    # Weights of standard deviation 1 whatever the fan-in.
    "no-fan-in-scaling": Mistake(
        "dense_layer",
        "std = 1.0 / math.sqrt(n_in)",
        "std = 1.0",
        {"test_dense_layer": "1/sqrt(n_in)"},
    ),
}


@pytest.mark.slow
def test_grading_rewards_any_correct_style_and_names_each_mistake(course, make_class, tmp_path):
    check_grading(course, make_class, tmp_path / "out", "nanograd", ALTERNATIVE, MISTAKES)
