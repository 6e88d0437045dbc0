"""Does grading of the optim assignment tell a correct hand-in from a wrong one, however it is written?

Each hand-in below is the source notebook with some answer cells replaced: an alternative correct
implementation written in another style (PyTorch's lazily started momentum buffer and its fused
in-place operations, a step count per parameter and out-of-place updates through `p.data`, a
Bernoulli mask, `np.var` with the running statistics updated in place and the batch-norm backward
derived step by step through the mean and the variance) must score full marks, and each typical
mistake must lose exactly the parts that test what it breaks, with feedback that names the problem.
All hand-ins are graded in one batch, as a teacher would. The written part 7 waits for a TA and is
not part of this comparison (`hand_ins.answer_cells` leaves it out). A batch-norm forward pass with
the unbiased variance loses the forward, running-statistics and backward parts alike: all three
follow from the variance it computes.
"""

import pytest
from conftest import REPO
from hand_ins import Mistake, check_grading

SOURCE = REPO / "source_notebooks" / "optim" / "optim.ipynb"

# torch.optim.SGD's own form: the buffer starts as a copy of the first gradient. Without the copy
# (`lazy-buffer-without-clone` below) the buffer is p.grad itself.
LAZY_SGD = """
class MomentumSGD(Optimiser):
    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params)
        self.lr, self.momentum = lr, momentum
        self.buffers = {}

    @torch.no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if i not in self.buffers:
                self.buffers[i] = torch.clone(p.grad).detach()
            else:
                self.buffers[i].mul_(self.momentum).add_(p.grad)
            p.add_(self.buffers[i], alpha=-self.lr)
"""

# The running statistics updated in a block of their own, guarded by the mode.
GUARDED_BN = """
class BatchNorm:
    def __init__(self, num_features, momentum=0.1, eps=1e-5):
        self.gamma, self.beta = np.ones(num_features), np.zeros(num_features)
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)
        self.momentum, self.eps = momentum, eps
        self.training = True

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        batch_mean, batch_var = x.mean(axis=0), x.var(axis=0)
        if self.training:
            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * batch_mean
            self.running_var = (1 - self.momentum) * self.running_var + self.momentum * x.var(axis=0, ddof=1)
        if self.training:
            mean, var = batch_mean, batch_var
        else:
            mean, var = self.running_mean, self.running_var
        self.x_hat = (x - mean) / np.sqrt(var + self.eps)
        self.inv_std = 1 / np.sqrt(var + self.eps)
        return self.gamma * self.x_hat + self.beta

    def backward(self, dout):
        n = dout.shape[0]
        dx_hat = dout * self.gamma
        dx = self.inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - self.x_hat * (dx_hat * self.x_hat).sum(axis=0))
        return dx, (dout * self.x_hat).sum(axis=0), dout.sum(axis=0)
"""

ALTERNATIVE = {
    "momentum_sgd": LAZY_SGD,
    "rmsprop": """
class RMSProp(Optimiser):
    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        super().__init__(params)
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.square_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    @torch.no_grad()
    def step(self):
        for p, square_avg in zip(self.params, self.square_avg):
            if p.grad is not None:
                square_avg.mul_(self.alpha).addcmul_(p.grad, p.grad, value=1 - self.alpha)
                p.addcdiv_(p.grad, square_avg.sqrt().add_(self.eps), value=-self.lr)
""",
    "adam": """
class Adam(Optimiser):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.state = {}

    @torch.no_grad()
    def step(self):
        b1, b2 = self.betas
        for p in self.params:
            if p.grad is None:
                continue
            s = self.state.setdefault(id(p), {"t": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            s["t"] += 1
            s["m"] = b1 * s["m"] + (1 - b1) * p.grad
            s["v"] = b2 * s["v"] + (1 - b2) * p.grad * p.grad
            m_hat = s["m"] / (1 - b1 ** s["t"])
            v_hat = s["v"] / (1 - b2 ** s["t"])
            p.data = p.data - self.lr * m_hat / (torch.sqrt(v_hat) + self.eps)
""",
    "dropout": """
class Dropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"the dropout probability should be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        mask = torch.bernoulli(torch.full_like(x, 1 - self.p))
        return x * mask / (1 - self.p)
""",
    "batchnorm": """
class BatchNorm:
    def __init__(self, num_features, momentum=0.1, eps=1e-5):
        self.gamma, self.beta = np.ones(num_features), np.zeros(num_features)
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)
        self.momentum, self.eps = momentum, eps
        self.training = True

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x):
        if self.training:
            mean, var = np.mean(x, axis=0), np.var(x, axis=0)
            self.running_mean *= 1 - self.momentum
            self.running_mean += self.momentum * mean
            self.running_var *= 1 - self.momentum
            self.running_var += self.momentum * np.var(x, axis=0, ddof=1)
            self.cache = (x, mean, var)
        else:
            mean, var = self.running_mean, self.running_var
        return self.gamma * (x - mean) / np.sqrt(var + self.eps) + self.beta

    def backward(self, dout):
        # Step by step through the graph: x_hat, then the variance, then the mean.
        x, mean, var = self.cache
        n = x.shape[0]
        std = np.sqrt(var + self.eps)
        x_hat = (x - mean) / std
        dx_hat = dout * self.gamma
        dvar = np.sum(dx_hat * (x - mean), axis=0) * -0.5 * std**-3
        dmean = np.sum(-dx_hat / std, axis=0) + dvar * np.mean(-2 * (x - mean), axis=0)
        dx = dx_hat / std + dvar * 2 * (x - mean) / n + dmean / n
        return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)
""",
}

# Each mistake: the answer cell it edits, the code it starts from (None: the source's solution), the
# text it replaces and by what, and the parts it must lose with a phrase each one's feedback must contain.
_EDITS = {
    # The "exponential moving average" form of momentum (dampening = momentum): steps ten times smaller.
    "momentum-with-dampening": (
        "momentum_sgd",
        None,
        "v.mul_(self.momentum).add_(p.grad)",
        "v.mul_(self.momentum).add_((1 - self.momentum) * p.grad)",
        {"test_momentum_sgd": "no factor 1 - momentum"},
    ),
    # The buffer is p.grad itself: right as long as zero_grad sets the gradients to None, wiped when it
    # zeroes them in place. Only the hidden test with zero_grad(set_to_none=False) sees it.
    "lazy-buffer-without-clone": (
        "momentum_sgd",
        LAZY_SGD,
        "torch.clone(p.grad).detach()",
        "p.grad",
        {"test_momentum_sgd": "set_to_none=False"},
    ),
    # The squared gradient of this step alone instead of its running mean: sign-SGD with extra steps.
    "rmsprop-without-decay": (
        "rmsprop",
        None,
        "s.mul_(self.alpha).add_((1 - self.alpha) * p.grad**2)",
        "s.copy_(p.grad**2)",
        {"test_rmsprop": "(1 - alpha) * g**2"},
    ),
    "rmsprop-eps-inside-the-root": (
        "rmsprop",
        None,
        "(s.sqrt() + self.eps)",
        "(s + self.eps).sqrt()",
        {"test_rmsprop": "outside the square root"},
    ),
    "adam-without-bias-correction": (
        "adam",
        None,
        "(m / correction1) / ((v / correction2).sqrt() + self.eps)",
        "m / (v.sqrt() + self.eps)",
        {"test_adam": "(1 - b1^t)"},
    ),
    "adam-eps-inside-the-root": (
        "adam",
        None,
        "((v / correction2).sqrt() + self.eps)",
        "(v / correction2 + self.eps).sqrt()",
        {"test_adam": "outside the square root"},
    ),
    # The step count of a class, shared by every Adam: one optimiser's steps advance the other's, so the
    # second Adam of the visible test starts at step 11.
    "adam-shared-step-count": (
        "adam",
        None,
        "        self.steps_taken += 1\n        correction1, correction2 = 1 - beta1**self.steps_taken, 1 - beta2**self.steps_taken",
        "        Adam.shared_t = getattr(Adam, 'shared_t', 0) + 1\n"
        "        correction1, correction2 = 1 - beta1**Adam.shared_t, 1 - beta2**Adam.shared_t",
        {"test_adam": "after step 1"},
    ),
    "dropout-without-scaling": (
        "dropout",
        None,
        "x / (1 - self.p)",
        "x",
        {"test_dropout": "1 / (1 - p)"},
    ),
    "dropout-active-in-eval": (
        "dropout",
        None,
        "        if not self.training:\n            return x\n",
        "",
        {"test_dropout": "evaluation mode"},
    ),
    # p taken as the probability of keeping a value.
    "dropout-keeps-with-probability-p": (
        "dropout",
        None,
        "torch.rand_like(x) >= self.p",
        "torch.rand_like(x) < self.p",
        {"test_dropout": "expected about 0.25"},
    ),
    # One mask for the whole batch, broadcast over its examples: the visible test already sees that the
    # share dropped is off (it is the share of one row's 500 draws).
    "dropout-one-mask-per-batch": (
        "dropout",
        None,
        "torch.rand_like(x) >= self.p",
        "torch.rand_like(x[:1]) >= self.p",
        {"test_dropout": "expected about 0.25"},
    ),
    "batchnorm-unbiased-variance": (
        "batchnorm",
        None,
        "batch_var = np.mean(centred**2, axis=0)",
        "batch_var = np.sum(centred**2, axis=0) / (n - 1)",
        {
            "test_batchnorm_forward": "biased variance",
            "test_batchnorm_running": "unbiased batch variance",
            "test_batchnorm_backward": "against autograd",
        },
    ),
    "batchnorm-running-statistics-never-updated": (
        "batchnorm",
        None,
        "        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * x.mean(axis=0)\n"
        "        self.running_var = (1 - self.momentum) * self.running_var + self.momentum * batch_var * (n / (n - 1))\n",
        "",
        {"test_batchnorm_running": "running_mean after 3 batches"},
    ),
    "batchnorm-running-variance-biased": (
        "batchnorm",
        None,
        "batch_var * (n / (n - 1))",
        "batch_var",
        {"test_batchnorm_running": "unbiased batch variance"},
    ),
    "batchnorm-momentum-on-the-old-value": (
        "batchnorm",
        None,
        "(1 - self.momentum) * self.running_mean + self.momentum * x.mean(axis=0)",
        "self.momentum * self.running_mean + (1 - self.momentum) * x.mean(axis=0)",
        {"test_batchnorm_running": "(1 - momentum)"},
    ),
    # The running statistics updated in evaluation mode too.
    "batchnorm-updates-in-eval": (
        "batchnorm",
        GUARDED_BN,
        "        if self.training:\n            self.running_mean",
        "        if True:\n            self.running_mean",
        {"test_batchnorm_running": "evaluation mode"},
    ),
    # dx as if the mean and the variance were constants.
    "batchnorm-backward-without-the-mean-terms": (
        "batchnorm",
        None,
        "inv_std * (g - g.mean(axis=0) - normalised * np.mean(g * normalised, axis=0))",
        "inv_std * g",
        {"test_batchnorm_backward": "against autograd"},
    ),
    # dx through the mean but not through the variance.
    "batchnorm-backward-without-the-variance-term": (
        "batchnorm",
        None,
        "inv_std * (g - g.mean(axis=0) - normalised * np.mean(g * normalised, axis=0))",
        "inv_std * (g - g.mean(axis=0))",
        {"test_batchnorm_backward": "against autograd"},
    ),
}

MISTAKES = {
    name: Mistake(answer, old, new, lost, start) for name, (answer, start, old, new, lost) in _EDITS.items()
}


@pytest.mark.slow
def test_grading_rewards_any_correct_style_and_names_each_mistake(course, make_class, tmp_path):
    check_grading(course, make_class, tmp_path / "out", "optim", ALTERNATIVE, MISTAKES)
