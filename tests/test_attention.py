"""Does grading of the attention assignment tell a correct hand-in from a wrong one, however it is written?

Each hand-in below is the source notebook with some answer cells replaced: an alternative correct
implementation written in another style (einsum and an additive mask for attention, a loop over the
heads, positions from exp and log in float32, the residual sums spelled out, sampling with
torch.distributions) must score full marks, and each typical mistake must lose exactly the parts
that test what it breaks, with feedback that names the problem. All hand-ins are graded in one
batch, as a teacher would. The hidden tests of parts 2, 4 and 5 put PyTorch's attention, multi-head
attention and transformer layer in place of the student's earlier parts, so a mistake costs the
part it is in, and the training part, which uses everything, only when the model trains worse than
the bound or sees the future.
"""

import pytest
from conftest import REPO
from hand_ins import Mistake, check_grading

SOURCE = REPO / "source_notebooks" / "attention" / "attention.ipynb"

MHA_INIT = """
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        assert d_model % n_heads == 0, f"d_model = {d_model} is not a multiple of n_heads = {n_heads}"
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
"""

BLOCK_INIT = """
class TransformerBlock(nn.Module):
    def __init__(self, d_model, n_heads, d_ff=None):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
"""

GPT_INIT = """
class TinyGPT(nn.Module):
    def __init__(self, vocab_size, block_size=32, d_model=32, n_heads=4, n_layers=2):
        super().__init__()
        self.vocab_size, self.block_size = vocab_size, block_size
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.register_buffer("pe", positional_encoding(block_size, d_model))
        self.blocks = nn.ModuleList([TransformerBlock(d_model, n_heads) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
"""

# Attention with the causal mask applied to the weights, after the softmax: each row keeps the share
# the future keys took from it, so the weights no longer sum to 1.
MASK_AFTER_SOFTMAX = """
def scaled_dot_product_attention(q, k, v, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = scores.softmax(dim=-1)
    if causal:
        t_q, t_k = scores.shape[-2:]
        future = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).triu(1)
        weights = weights.masked_fill(future, 0.0)
    return weights @ v
"""

# The original Transformer's post-norm block: a layer norm after each residual sum.
POST_NORM = (
    BLOCK_INIT
    + """
    def forward(self, x, causal=True):
        x = self.ln1(x + self.attn(x, x, x, causal=causal))
        return self.ln2(x + self.mlp(x))
"""
)

# An alternative correct solution: einsum and an additive mask of -1e9 with a softmax written out,
# a loop over the heads on column slices, the position table from exp and log in float32 with sines
# and cosines interleaved by stack, the residual sums spelled out with the MLP's layers called one
# by one, positions looked up by index, and sampling with torch.distributions (the global generator)
# under a decorator instead of `with`.
ALTERNATIVE = {
    "attention": """
def scaled_dot_product_attention(q, k, v, causal=False):
    scores = torch.einsum("...id,...jd->...ij", q, k) * q.shape[-1] ** -0.5
    if causal:
        n = scores.shape[-1]
        scores = scores + torch.full((n, n), -1e9, device=scores.device).triu(1)
    weights = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return torch.einsum("...ij,...jd->...id", weights, v)
""",
    "mha": MHA_INIT
    + """
    def forward(self, query, key, value, causal=False):
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        outputs = []
        for h in range(self.n_heads):
            cols = slice(h * self.d_head, (h + 1) * self.d_head)
            outputs.append(scaled_dot_product_attention(q[..., cols], k[..., cols], v[..., cols], causal=causal))
        return self.out_proj(torch.cat(outputs, dim=-1))
""",
    "positional_encoding": """
def positional_encoding(n_positions, d_model):
    pos = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    angle = pos * freq
    return torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(n_positions, d_model)
""",
    "block": BLOCK_INIT
    + """
    def forward(self, x, causal=True):
        normed = self.ln1(x)
        attended = self.attn(normed, normed, normed, causal)
        x = attended + x
        return x + self.mlp[2](self.mlp[1](self.mlp[0](self.ln2(x))))
""",
    "gpt": GPT_INIT
    + """
    def forward(self, idx):
        n, t = idx.shape
        h = self.token_embedding(idx) + self.pe[torch.arange(t, device=idx.device)].unsqueeze(0)
        for i in range(len(self.blocks)):
            h = self.blocks[i](h)
        return self.head(self.ln_f(h))


@torch.no_grad()
def generate(model, idx, n_new, temperature=1.0, greedy=False, generator=None):
    out = idx
    for _ in range(n_new):
        window = out if out.shape[1] <= model.block_size else out[:, out.shape[1] - model.block_size :]
        scores = model(window)[:, window.shape[1] - 1, :]
        if greedy:
            choice = torch.max(scores, dim=1).indices
        else:
            choice = torch.distributions.Categorical(logits=scores / temperature).sample()
        out = torch.cat([out, choice[:, None]], dim=1)
    return out
""",
}

# Each mistake: the answer cell it edits, the code it starts from (None: the source's solution), the
# text it replaces (everywhere) and by what, the parts it must lose, and a phrase the feedback of
# each lost part must contain.
_EDITS = {
    # The scores not divided by sqrt(d): the softmax saturates, but the model still trains.
    "unscaled-scores": (
        "attention",
        None,
        " / math.sqrt(d)",
        "",
        {"test_attention": "sqrt(d)", "test_attention_causal": "sqrt(d)"},
    ),
    # The softmax over the queries instead of the keys: each weight depends on the later queries too.
    "softmax-over-queries": (
        "attention",
        None,
        "scores.softmax(dim=-1)",
        "scores.softmax(dim=-2)",
        {
            "test_attention": "over the keys",
            "test_attention_causal": "causal=True",
            "test_training": "must not see the future",
        },
    ),
    # The causal mask applied after the softmax: the weights of a row no longer sum to 1, and their sum
    # depends on the future keys, so the trained model reads the future through it.
    "mask-after-softmax": (
        "attention",
        MASK_AFTER_SOFTMAX,
        "weights.masked_fill(future, 0.0)",
        "weights.masked_fill(future, 0.0)",
        {"test_attention_causal": "before the softmax", "test_training": "must not see the future"},
    ),
    # The causal mask one off: query i also sees key i + 1, and the trained model reads the future.
    "causal-mask-one-ahead": (
        "attention",
        None,
        ".tril()",
        ".tril(1)",
        {"test_attention_causal": "i + 1", "test_training": "must not see the future"},
    ),
    # The heads split by a plain view to (N, n_heads, T, d_head), which mixes positions and features:
    # the model trains far worse.
    "heads-split-by-view": (
        "mha",
        None,
        "x.view(x.shape[0], x.shape[1], self.n_heads, self.d_head).transpose(1, 2)",
        "x.view(x.shape[0], self.n_heads, x.shape[1], self.d_head)",
        {
            "test_mha": "view(N, T, n_heads, d_head)",
            "test_mha_cross_causal": "one row per query",
            "test_training": "the bound is 0.5",
        },
    ),
    # Keys projected with the query's layer: still a trainable attention, but not the one whose weights
    # the test copies.
    "keys-from-the-query-projection": (
        "mha",
        None,
        "split_heads(self.k_proj(key))",
        "split_heads(self.q_proj(key))",
        {"test_mha": "k_proj", "test_mha_cross_causal": "keys from key"},
    ),
    # Sines and cosines swapped between the even and the odd columns.
    "pe-sin-cos-swapped": (
        "positional_encoding",
        None,
        "torch.sin(angles)\n    table[:, 1::2] = torch.cos(angles)",
        "torch.cos(angles)\n    table[:, 1::2] = torch.sin(angles)",
        {"test_positional_encoding": "sines in the even columns"},
    ),
    # The exponent i / d_model instead of 2i / d_model: every pair but the first turns too fast.
    "pe-exponent-i-over-d": (
        "positional_encoding",
        None,
        "10000 ** (two_i / d_model)",
        "10000 ** (two_i / 2 / d_model)",
        {"test_positional_encoding": "10000^(2i / d_model)"},
    ),
    # No residual connections: the block's output is the sub-layers' alone, and the GPT trains worse.
    "no-residual": (
        "block",
        None,
        "x = x + self.attn(h, h, h, causal=causal)",
        "x = self.attn(h, h, h, causal=causal)",
        {"test_block": "un-normalised x", "test_training": "the bound is 0.5"},
    ),
    # Post-norm where the assignment asks for pre-norm: a transformer block, but not the one asked for.
    "post-norm": (
        "block",
        POST_NORM,
        "self.ln2(x + self.mlp(x))",
        "self.ln2(x + self.mlp(x))",
        {"test_block": "pre-norm"},
    ),
    # The positional encoding left out: the model cannot tell where it is in the window.
    "gpt-without-positions": (
        "gpt",
        None,
        "self.token_embedding(idx) + self.pe[: idx.shape[1]]",
        "self.token_embedding(idx)",
        {"test_gpt": "pe[:T]", "test_training": "the bound is 0.5"},
    ),
    # The blocks run without the causal mask: the model learns to copy the next character.
    "gpt-blocks-not-causal": (
        "gpt",
        None,
        "block(x, causal=True)",
        "block(x, causal=False)",
        {"test_gpt": "causal=True", "test_training": "must not see the future"},
    ),
    # generate that ignores the temperature: every temperature draws from the model's own distribution.
    "generate-ignores-temperature": (
        "gpt",
        None,
        "(logits / temperature).softmax(dim=-1)",
        "logits.softmax(dim=-1)",
        {"test_generate_sampling": "softmax(logits / temperature)"},
    ),
    # generate that hands the model the whole context, longer than its block_size.
    "generate-without-crop": (
        "gpt",
        None,
        "model(idx[:, -model.block_size :])",
        "model(idx)",
        {"test_generate_greedy": "block_size"},
    ),
    # generate that picks the next token from the scores of the first position instead of the last.
    "generate-first-position": (
        "gpt",
        None,
        "model(idx[:, -model.block_size :])[:, -1]",
        "model(idx[:, -model.block_size :])[:, 0]",
        {"test_generate_greedy": "[:, -1]"},
    ),
}

MISTAKES = {
    name: Mistake(answer, old, new, lost, start) for name, (answer, start, old, new, lost) in _EDITS.items()
}


@pytest.mark.slow
def test_grading_rewards_any_correct_style_and_names_each_mistake(course, make_class, tmp_path):
    check_grading(course, make_class, tmp_path / "out", "attention", ALTERNATIVE, MISTAKES)
