"""Does grading of the generative assignment tell a correct hand-in from a wrong one, however it is written?

Each hand-in below is the source notebook with some answer cells replaced: an alternative correct
implementation written in another style (`torch.addcmul` for the codes, Kingma and Welling's form
of the KL term, the Bernoulli log-likelihood written out with `logsigmoid`, a schedule built in a
Python loop, `q_sample` one image at a time, the reverse step through the estimate of x0 and the
posterior mean in float32, a sampler that draws no noise for the last step) must score full marks,
and each typical mistake must lose exactly the parts that test what it breaks, with feedback that
names the problem. All hand-ins are graded in one batch, as a teacher would. The tests of parts 4
and 7 put PyTorch's versions of parts 1, 2 and 6 in place of the student's, so a mistake costs the
part it is in, and the training parts, which use everything, only when a model trains worse than
its bound.
"""

import pytest
from conftest import REPO
from hand_ins import Mistake, check_grading

SOURCE = REPO / "source_notebooks" / "generative" / "generative.ipynb"

VAE_INIT = """
class VAE(nn.Module):
    def __init__(self, latent=2, hidden=128):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 64))
"""

ALTERNATIVE = {
    "reparameterise": """
def reparameterise(mu, logvar, eps):
    sigma = torch.sqrt(torch.exp(logvar))
    return torch.addcmul(mu, sigma, eps)
""",
    # Kingma and Welling's appendix B: -KL = 0.5 * sum(1 + log sigma^2 - mu^2 - sigma^2).
    "kl": """
def kl_to_standard_normal(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)
""",
    "vae": VAE_INIT
    + """
    def encode(self, x):
        mu, logvar = torch.chunk(self.encoder(x), 2, dim=1)
        return mu, logvar

    def decode(self, z):
        h = z
        for layer in self.decoder:
            h = layer(h)
        return h

    @torch.no_grad()
    def generate(self, n, generator=None):
        z = torch.randn(n, self.latent, generator=generator)
        return self.decode(z).sigmoid()
""",
    "elbo": """
def elbo_loss(model, x, eps):
    mu, logvar = model.encode(x)
    z = reparameterise(mu, logvar, eps)
    logits = model.decode(z)
    log_likelihood = (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=-1)
    return (kl_to_standard_normal(mu, logvar) - log_likelihood).sum() / x.shape[0]
""",
    "schedule": """
def linear_schedule(steps, beta_first=1e-4, beta_last=0.02, reference_steps=1000):
    first, last = beta_first * reference_steps / steps, beta_last * reference_steps / steps
    gap = (last - first) / (steps - 1) if steps > 1 else 0.0
    betas, alphas, alpha_bars, product = [], [], [], 1.0
    for i in range(steps):
        beta = first + i * gap
        product *= 1 - beta
        betas.append(beta)
        alphas.append(1 - beta)
        alpha_bars.append(product)
    return tuple(torch.tensor(values, dtype=torch.float64) for values in (betas, alphas, alpha_bars))
""",
    "q_sample": """
def q_sample(x0, t, alpha_bars, noise):
    rows = []
    for image, eps, step in zip(x0, noise, t.tolist()):
        keep = alpha_bars[step - 1].item()
        rows.append(math.sqrt(keep) * image + math.sqrt(1 - keep) * eps)
    return torch.stack(rows)
""",
    "loss": """
def noise_prediction_loss(model, x0, t, noise, alpha_bars):
    return F.mse_loss(model(q_sample(x0, t, alpha_bars, noise), t), noise)
""",
    # The step as the posterior mean of q(x_(t-1) | x_t, x0) at the x0 the predicted noise implies.
    "sampler": """
def ddpm_step(model, x_t, t, betas, alpha_bars, z):
    beta, alpha_bar = betas[t - 1].float(), alpha_bars[t - 1].float()
    alpha_bar_before = alpha_bars[t - 2].float() if t > 1 else torch.tensor(1.0)
    eps = model(x_t, torch.full((x_t.shape[0],), t, device=x_t.device))
    x0_hat = (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
    mean = (alpha_bar_before.sqrt() * beta * x0_hat + (1 - beta).sqrt() * (1 - alpha_bar_before) * x_t) / (1 - alpha_bar)
    if t > 1:
        mean = mean + ((1 - alpha_bar_before) / (1 - alpha_bar) * beta).sqrt() * z
    return mean.to(x_t.dtype)


@torch.no_grad()
def ddpm_sample(model, n, betas, alpha_bars, generator=None):
    x = torch.randn(n, 64, generator=generator)
    for t in range(len(betas), 0, -1):
        z = torch.randn(n, 64, generator=generator) if t > 1 else None
        x = ddpm_step(model, x, t, betas, alpha_bars, z)
    return x
""",
}

# Each mistake: the answer cell it edits, the text it replaces (everywhere) and by what, and the
# parts it must lose with a phrase the feedback of each lost part must contain.
_EDITS = {
    # sigma^2 in place of sigma: the codes are drawn with the wrong spread.
    "codes-with-the-variance": (
        "reparameterise",
        "torch.exp(0.5 * logvar)",
        "torch.exp(logvar)",
        {"test_reparameterise": "not the variance"},
    ),
    # The KL term without its factor 1/2.
    "kl-without-the-half": (
        "kl",
        "return 0.5 * per_dimension.sum(dim=-1)",
        "return per_dimension.sum(dim=-1)",
        {"test_kl": "KL = 0.5 * sum_j"},
    ),
    # mu and logvar taken from the wrong halves of the encoder's output.
    "encode-halves-swapped": (
        "vae",
        "return out[:, : self.latent], out[:, self.latent :]",
        "return out[:, self.latent :], out[:, : self.latent]",
        {"test_vae": "first `latent` outputs"},
    ),
    # generate returns the decoder's logits instead of probabilities.
    "generate-returns-logits": (
        "vae",
        "return torch.sigmoid(self.decode(codes))",
        "return self.decode(codes)",
        {"test_vae": "probabilities of ink"},
    ),
    # The reconstruction averaged over the pixels (F.binary_cross_entropy_with_logits' default): the
    # KL term weighs 64 times too much, and the VAE trains worse.
    "reconstruction-averaged-over-pixels": (
        "elbo",
        'reduction="none").sum(dim=1)',
        'reduction="none").mean(dim=1)',
        {"test_elbo": "not their mean", "test_vae_training": "the bound is 26"},
    ),
    # DDPM's betas for 1,000 steps, not stretched to 200.
    "schedule-not-stretched": (
        "schedule",
        "stretch = reference_steps / steps",
        "stretch = 1.0",
        {"test_schedule": "0.02 * 1000 / 200"},
    ),
    # The image weighted by alpha_bar instead of its square root.
    "q-sample-without-square-roots": (
        "q_sample",
        "torch.sqrt(alpha_bar) * x0 + torch.sqrt(1 - alpha_bar) * noise",
        "alpha_bar * x0 + (1 - alpha_bar) * noise",
        {"test_q_sample": "sqrt(alpha_bar_t)"},
    ),
    # The denoiser shown the clean image: it cannot predict the noise, and trains to nothing.
    "loss-on-the-clean-image": (
        "loss",
        "model(x_t, t)",
        "model(x0, t)",
        {"test_loss": "x_t = q_sample", "test_denoiser_training": "the bound is 0.25"},
    ),
    # sigma_t^2 = beta_t where the assignment asks for beta tilde.
    "step-variance-beta": (
        "sampler",
        "variance = beta * (1 - alpha_bars[t - 2].item()) / (1 - alpha_bar)",
        "variance = beta",
        {"test_ddpm_step": "sigma_t^2 = (1 - alpha_bar_(t-1))", "test_ddpm_sample": "then for t = T, ..., 1"},
    ),
    # Noise added in the last step too.
    "noise-in-the-last-step": (
        "sampler",
        "    if t == 1:\n        return mean\n",
        "",
        {"test_ddpm_step": "adds no noise", "test_ddpm_sample": "no noise in the last"},
    ),
    # The steps taken forwards, t = 1 to T.
    "sampler-steps-forwards": (
        "sampler",
        "reversed(range(1, len(betas) + 1))",
        "range(1, len(betas) + 1)",
        {"test_ddpm_sample": "t = T down to"},
    ),
}

MISTAKES = {name: Mistake(answer, old, new, lost) for name, (answer, old, new, lost) in _EDITS.items()}


@pytest.mark.slow
def test_grading_rewards_any_correct_style_and_names_each_mistake(course, make_class, tmp_path):
    check_grading(course, make_class, tmp_path / "out", "generative", ALTERNATIVE, MISTAKES)
