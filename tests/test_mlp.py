"""Does grading of the mlp assignment tell a correct hand-in from a wrong one, however it is written?

Each hand-in below is the source notebook with some answer cells replaced: an alternative correct
implementation written in another style must score full marks, and each typical mistake must lose
exactly the parts that test what it breaks, with feedback that names the problem. The hidden tests
find the training-loop mistakes by what the code does (steps counted, gradients compared at every
step, the model's mode and autograd noted at every forward pass, the images that reach the model),
so the mistakes here are real edits of a working solution, not strings the tests search for. All
hand-ins are graded in one batch, as a teacher would grade a class.
"""

import nbformat
import pytest
from conftest import REPO
from hand_ins import Mistake, check_grading

SOURCE = REPO / "source_notebooks" / "mlp" / "mlp.ipynb"
NOTEBOOK = "mlp.ipynb"

# An alternative correct solution: softmax through a shared log-sum-exp, gradients with einsum and
# masks kept from the pre-activations, parameters replaced instead of updated in place, a custom
# nn.Module with a ModuleList, zero_grad after the step instead of before, an unweighted mean of the
# batch losses for training, torch.inference_mode instead of no_grad, and early stopping counted
# from the best epoch with the weights cloned tensor by tensor.
ALTERNATIVE = {
    "softmax_ce": """
def logsumexp(z):
    m = np.max(z, axis=-1, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def softmax(z):
    z = np.array(z, dtype=np.float64)
    return np.exp(z - logsumexp(z))


def cross_entropy(logits, y):
    logits = np.array(logits, dtype=np.float64)
    picked = np.take_along_axis(logits, np.asarray(y)[:, None], axis=1)
    return float(np.mean(logsumexp(logits) - picked))


def cross_entropy_grad(logits, y):
    logits = np.asarray(logits, dtype=np.float64)
    return (softmax(logits) - np.eye(logits.shape[1])[y]) / logits.shape[0]
""",
    "numpy_mlp": """
class NumpyMLP:
    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {}
        for k, (a, b) in enumerate(zip(sizes, sizes[1:]), start=1):
            self.params["W%d" % k] = rng.standard_normal((a, b)) * np.sqrt(2 / a)
            self.params["b%d" % k] = np.zeros(b)
        self.depth = len(sizes) - 1

    def forward(self, X):
        self.cache = []
        a = np.asarray(X, dtype=np.float64)
        for k in range(1, self.depth + 1):
            z = a @ self.params["W%d" % k] + self.params["b%d" % k]
            self.cache.append((a, z))
            a = np.where(z > 0, z, 0.0) if k < self.depth else z
        return a

    def backward(self, dlogits):
        self.grads = {}
        delta = np.asarray(dlogits, dtype=np.float64)
        for k in reversed(range(1, self.depth + 1)):
            a, _ = self.cache[k - 1]
            self.grads["W%d" % k] = np.einsum("ni,nj->ij", a, delta)
            self.grads["b%d" % k] = delta.sum(0)
            if k > 1:
                _, z_below = self.cache[k - 2]
                delta = (delta @ self.params["W%d" % k].T) * (z_below > 0)
        return self.grads

    def step(self, lr):
        for name, g in self.grads.items():
            self.params[name] = self.params[name] - lr * g
""",
    "make_mlp": """
class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


def make_mlp(sizes):
    return MLP(sizes)
""",
    "train_evaluate": """
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    losses = []
    for x, y in loader:
        out = model(x.to(device))
        loss = loss_fn(out, y.to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return float(np.mean(losses))


def evaluate(model, loader, loss_fn, device, k=1):
    model.eval()
    summed, hits, n = 0.0, 0.0, 0
    with torch.inference_mode():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            summed += loss_fn(logits, y).item() * y.numel()
            rank = (logits > logits.gather(1, y[:, None])).sum(dim=1)  # classes scored above the true one
            hits += (rank < k).float().sum().item()
            n += y.numel()
    return summed / n, hits / n
""",
    "fit": """
def fit(model, train_loader, val_loader, device, epochs=40, lr=1e-3, patience=5):
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    rows, best_epoch, best_weights = [], None, None
    for epoch in range(epochs):
        train_loss = train_one_epoch(model, train_loader, opt, criterion, device)
        rows.append((train_loss, *evaluate(model, val_loader, criterion, device)))
        if best_epoch is None or rows[-1][1] < rows[best_epoch][1]:
            best_epoch = epoch
            best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= patience:
            break
    if best_weights is not None:
        model.load_state_dict(best_weights)
    train_losses, val_losses, val_accuracies = (list(column) for column in zip(*rows))
    return {"train_loss": train_losses, "val_loss": val_losses, "val_accuracy": val_accuracies}
""",
}

TEST_DATA_IN_FIT = """history["val_accuracy"].append(val_accuracy)
        history.setdefault("test_accuracy", []).append(evaluate(model, test_loader, loss_fn, device)[1])"""

# Each mistake: the answer cell it edits, the text it replaces and by what, the parts it must lose,
# and a phrase the feedback of each lost part must contain.
MISTAKES = {
    # exp of large logits overflows: inf / inf is nan.
    "unstable-softmax": Mistake(
        "softmax_ce",
        "np.exp(z - z.max(axis=1, keepdims=True))",
        "np.exp(z)",
        {"test_softmax": "subtract each row's maximum"},
    ),
    # backward() adds to .grad: without zero_grad every step uses the sum of all earlier gradients.
    # The trained network is then worse too (92 % to 95 % on the test set over 12 seeds, against
    # 96.7 % to 97.8 % over 20 seeds for a correct loop of the same size), below the 95 % of the
    # accuracy part.
    "no-zero-grad": Mistake(
        "train_evaluate",
        "        optimizer.zero_grad()\n",
        "",
        {"test_train_one_epoch": "zero_grad", "test_accuracy": "zero_grad"},
    ),
    # After evaluate() the model stays in evaluation mode for every later epoch.
    "no-train-mode": Mistake(
        "train_evaluate",
        "    model.train()\n",
        "",
        {"test_train_one_epoch": "model.train()"},
    ),
    "no-eval-mode": Mistake("train_evaluate", "    model.eval()\n", "", {"test_evaluate": "model.eval()"}),
    "no-no-grad": Mistake(
        "train_evaluate",
        "with torch.no_grad():",
        "if True:",
        {"test_evaluate": "torch.no_grad()"},
    ),
    # Training ends with the weights of the last epoch, `patience` epochs past the best one.
    "no-restore": Mistake(
        "fit",
        "    model.load_state_dict(best_state)\n",
        "",
        {"test_fit": "restore the best weights"},
    ),
    # state_dict() without a copy holds the live tensors: the "best" weights follow the training.
    "state-dict-not-copied": Mistake(
        "fit",
        "val_loss, copy.deepcopy(model.state_dict()), 0",
        "val_loss, model.state_dict(), 0",
        {"test_fit": "restore the best weights"},
    ),
    # The test set used during training (here to log its accuracy every epoch).
    "test-data-in-fit": Mistake(
        "fit",
        'history["val_accuracy"].append(val_accuracy)',
        TEST_DATA_IN_FIT,
        {"test_fit": "test set"},
    ),
    # The mistakes below pass every visible check; only the hidden tests' observations find them.
    # On the CPU a batch left where it is runs anyway; on a GPU the model would meet CPU tensors.
    "batches-not-moved": Mistake(
        "train_evaluate",
        "        xb, yb = xb.to(device), yb.to(device)\n        optimizer.zero_grad()",
        "        optimizer.zero_grad()",
        {"test_train_one_epoch": "xb.to(device)"},
    ),
    "model-not-moved": Mistake("fit", "    model.to(device)\n", "", {"test_fit": "model.to(device)"}),
    # An equal validation loss counted as an improvement: the patience never runs out on a plateau.
    "equal-is-better": Mistake(
        "fit", "if val_loss < best_loss:", "if val_loss <= best_loss:", {"test_fit": "strictly lower"}
    ),
    # The mean of the batch means: right while all batches have one size (the visible test), wrong
    # once the last batch is smaller.
    "unweighted-evaluate": Mistake(
        "train_evaluate",
        "total += loss_fn(logits, yb).item() * len(yb)",
        "total += loss_fn(logits, yb).item() * len(loader.dataset) / len(loader)",
        {"test_evaluate": "weight each batch"},
    ),
    # The top-k accuracy taken as the top-1 accuracy whatever k is: right for k=1, the default fit uses.
    "evaluate-ignores-k": Mistake(
        "train_evaluate",
        "correct += (top_k == yb[:, None]).any(dim=1).sum().item()",
        "correct += (logits.argmax(dim=1) == yb).sum().item()",
        {"test_evaluate": "among the k largest logits"},
    ),
    # Only the weights learn; the visible test steps a network whose bias change it does not check.
    "step-skips-biases": Mistake(
        "numpy_mlp",
        "            self.params[name] -= lr * grad",
        '            if name.startswith("W"):\n                self.params[name] -= lr * grad',
        {"test_numpy_training": "the biases too"},
    ),
    # The spread scaled by the layer's outputs instead of its inputs.
    "init-by-fan-out": Mistake(
        "numpy_mlp",
        "math.sqrt(2.0 / n_in)",
        "math.sqrt(2.0 / n_out)",
        {"test_numpy_forward": "He initialisation"},
    ),
}


def test_the_mnist_switch_is_off_in_the_graded_notebook():
    given = "\n".join(c.source for c in nbformat.read(SOURCE, as_version=4).cells if c.cell_type == "code")
    assert "USE_MNIST = False" in given


@pytest.mark.slow
def test_grading_rewards_any_correct_style_and_names_each_mistake(course, make_class, tmp_path):
    check_grading(course, make_class, tmp_path / "out", "mlp", ALTERNATIVE, MISTAKES)
