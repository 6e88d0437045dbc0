"""Facts the chapters must get right, checked where students read them: in the built pages.

Each chapter computes its facts in code, asserts them there and prints them; these tests
check that the printed values reached the website (the `site` fixture of conftest.py builds
it once per session) and that the assertions are still in the notebooks. The pinned values
come from the course map (shared/COURSE-MAP.md, "facts a test should pin").
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pytest

# Browser helpers of the book tests (tests/ is on sys.path: pytest's default "prepend" import mode).
from browser import SHOWN_FRAMES, browse
from test_book import WIDGET_STATE

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

P_OPTIMAL = 0.5048831168831168  # sum(E * t) / sum(t ** 2) for the energy data of chapter 3


def page_text(site: Path, name: str) -> str:
    """The page's HTML with entities decoded, so printed output reads as the notebook printed it."""
    page = site / "book" / f"{name}.html"
    assert page.exists(), f"{page} was not built: is the chapter in _toc.yml?"
    return html.unescape(page.read_text(encoding="utf-8"))


def widget_models(text: str) -> list[dict]:
    states = re.findall(rf'<script type="{re.escape(WIDGET_STATE)}">(.*?)</script>', text, re.DOTALL)
    assert states, "no widget state embedded in the page"
    return list(json.loads(states[0])["state"].values())


def code_of(notebook: str) -> str:
    nb = nbformat.read(BOOK / f"{notebook}.ipynb", as_version=4)
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")


def test_chapters_assert_their_pinned_facts() -> None:
    """Do the chapters still assert the pinned facts, so a wrong value fails the build?"""
    neurons = code_of("02_neurons")
    assert re.search(r"assert sigmoid_prime\(0\.0\) == 0\.25", neurons)
    assert re.search(r"assert .*0\.05\s*\*\*\s*4.*6\.25e-6", neurons)
    descent = code_of("03_gradient_descent")
    assert re.search(r"assert abs\(P_optimal - 0\.5048831168831168\) < 1e-15", descent)
    assert re.search(r"assert abs\(path\[-1\] - P_optimal\) < 1e-12", descent)


def markdown_of(notebook: str) -> str:
    nb = nbformat.read(BOOK / f"{notebook}.ipynb", as_version=4)
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def test_chapters_assert_the_facts_fixed_in_review() -> None:
    """Do the facts corrected in review stand in the text and in an assertion that fails the build?"""
    descent = code_of("03_gradient_descent")
    assert "round(P_offset, 3) == 0.507 and round(E0_offset, 3) == -0.018" in descent
    assert "$P = 0.507$ kW" in markdown_of("03_gradient_descent")
    assert "$E_0 = -0.018$ kWh" in markdown_of("03_gradient_descent")
    backprop = code_of("04_backprop")
    assert "assert W1 == b1 == W2 == 0 and b2 > 0" in backprop  # all-zero weights and biases
    assert "np.mean(h_check**2) - 0.5" in backprop  # ReLU halves the second moment
    assert "1,000 nested calls" in markdown_of("04_backprop")
    pytorch = code_of("05_pytorch")
    assert 'endswith("weight")) == 84_480' in pytorch
    assert "sum(p.numel() for p in big.parameters()) == 85_002" in pytorch
    assert "unchanged[kept] / (1 - 0.5)" in pytorch  # dropout scales the kept values by 1 / (1 - p)
    text = markdown_of("05_pytorch")
    assert "84{,}480$ weights" in text and "85,002 parameters" in text
    assert "83,000" not in text


def test_frames_grid_links_both_sliders_to_the_frames(widgets, plt) -> None:
    """Does the 2-D chooser tie its row slider to the rows and its column slider to every row?"""

    def draw(a, b):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, a * b])
        return fig

    box = widgets.frames_grid(draw, [1, 2], [3, 4, 5], ("a", "b"), alt=lambda a, b: f"a={a} b={b}")
    row_slider, column_slider, rows = box.children
    assert row_slider.options == ("1", "2") and column_slider.options == ("3", "4", "5")
    assert len(rows.children) == 2 and all(len(row.children) == 3 for row in rows.children)
    assert 'alt="a=2 b=4"' in rows.children[1].children[1].value
    with pytest.raises(ValueError):
        widgets.frames_grid(draw, [], [1], ("a", "b"), alt=str)


def test_frames_sliders_of_the_transformer_chapter_link_every_level(widgets, plt) -> None:
    """Does the n-slider chooser nest one level of stacks per slider, each tied to its own slider?"""

    def draw(*values):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, sum(values)])
        return fig

    box = widgets.frames_sliders(
        draw, [[1, 2], [10, 20, 30], [100, 200]], ("a", "b", "c"), alt=lambda a, b, c: f"a={a} b={b} c={c}"
    )
    *sliders, frames = box.children
    assert [s.options for s in sliders] == [("1", "2"), ("10", "20", "30"), ("100", "200")]
    assert len(frames.children) == 2 and all(len(row.children) == 3 for row in frames.children)
    assert all(len(stack.children) == 2 for row in frames.children for stack in row.children)
    assert 'alt="a=2 b=30 c=100"' in frames.children[1].children[2].children[0].value
    with pytest.raises(ValueError):
        widgets.frames_sliders(draw, [[1], []], ("a", "b"), alt=str)
    with pytest.raises(ValueError):
        widgets.frames_sliders(draw, [[1], [2]], ("a",), alt=str)


@pytest.mark.slow
def test_neurons_page_shows_the_computed_facts(site: Path) -> None:
    """Does the neurons chapter print sigmoid'(0) = 0.25 and the vanishing product 0.05^4 = 6.25e-06?"""
    text = page_text(site, "02_neurons")
    assert "sigmoid'(0) = 0.25" in text
    assert "0.05^4 = 6.25e-06" in text
    assert "d h4 / d x0 = 6.25e-06" in text  # autograd through four sigmoid neurons agrees
    names = [model["model_name"] for model in widget_models(text)]
    assert names.count("SelectionSliderModel") == 2  # activations, universal approximation
    assert {"StackModel", "LinkModel"} <= set(names)


@pytest.mark.slow
def test_gradient_descent_page_shows_the_optimum_and_convergence(site: Path) -> None:
    """Does the page show P_optimal to every digit, and gradient descent arriving at it?"""
    text = page_text(site, "03_gradient_descent")
    assert f"P_optimal = {P_OPTIMAL!r} kW" in text
    after_99 = re.search(r"after   99 steps: P = ([\d.]+)", text)
    assert after_99 and float(after_99.group(1)) == pytest.approx(0.5047378060244245, abs=1e-15)
    after_1000 = re.search(r"after 1000 steps: P = ([\d.]+)", text)
    assert after_1000, "the converged gradient-descent value is not on the page"
    assert abs(float(after_1000.group(1)) - P_OPTIMAL) < 1e-12
    torch_value = re.search(r"PyTorch: P = ([\d.]+)", text)
    assert torch_value and abs(float(torch_value.group(1)) - P_OPTIMAL) < 1e-10


@pytest.mark.slow
def test_gradient_descent_page_embeds_the_learning_rate_momentum_grid(site: Path) -> None:
    """Does the page carry all 5 x 3 precomputed runs, each with its own alt text, and the links?"""
    models = widget_models(page_text(site, "03_gradient_descent"))
    names = [model["model_name"] for model in models]
    assert names.count("SelectionSliderModel") == 2
    assert names.count("StackModel") == 1 + 5  # the rows, and one stack of momenta per row
    assert names.count("LinkModel") == 1 + 5
    alts = {
        match
        for model in models
        if model["model_name"] == "HTMLModel"
        for match in re.findall(r'alt="([^"]*)"', model["state"].get("value", ""))
    }
    assert len(alts) == 15
    assert any("learning rate 0.0027 and momentum 0.0" in alt and "diverges" in alt for alt in alts)
    assert any("learning rate 0.0027 and momentum 0.5" in alt and "converges" in alt for alt in alts)


@pytest.mark.slow
@pytest.mark.browser
def test_both_sliders_switch_the_descent_frame_in_browser(site: Path, tmp_path: Path) -> None:
    """With no kernel, do the learning-rate and momentum sliders each change the shown run?"""
    with browse(site, tmp_path) as (browser, base):
        browser.open(f"{base}/book/03_gradient_descent.html")
        assert "learning rate 0.0001 and momentum 0.0," in browser.evaluate(SHOWN_FRAMES)
        browser.press_right(1, 2)  # momentum 0 -> 0.5 -> 0.9
        assert "learning rate 0.0001 and momentum 0.9," in browser.evaluate(SHOWN_FRAMES)
        browser.press_right(0, 4)  # learning rate to the last, 0.0027
        frame = browser.evaluate(SHOWN_FRAMES)
        assert "learning rate 0.0027 and momentum 0.9," in frame and " | " not in frame


def chapter_function(notebook: str, name: str) -> dict:
    """Run the code cell of `notebook` that defines `name` (it must need only torch and math) and return its names."""
    import math

    import torch

    cells = nbformat.read(BOOK / f"{notebook}.ipynb", as_version=4).cells
    (cell,) = [
        c.source
        for c in cells
        if c.cell_type == "code" and re.search(rf"^def {name}\(", c.source, re.MULTILINE)
    ]
    namespace = {"math": math, "torch": torch}
    exec(compile(cell.split("\n\n\ntorch.manual_seed")[0], f"{notebook}:{name}", "exec"), namespace)
    return namespace


def test_training_chapter_asserts_its_pinned_facts() -> None:
    """Does chapter 7 assert the initial loss log(10), its optimisers against torch.optim, dropout's
    1/(1-p) and batch normalisation against nn.BatchNorm1d in both modes?"""
    training = code_of("07_training_well")
    assert "assert abs(initial_loss - math.log(10)) < 0.05" in training
    assert "compare_with_torch(adam_step, torch.optim.Adam" in training
    assert "compare_with_torch(rmsprop_step, torch.optim.RMSprop" in training
    assert "compare_with_torch(sgd_momentum_step, torch.optim.SGD" in training
    assert "assert difference < 1e-6" in training
    assert "assert torch.allclose(out[kept], x[kept] / (1 - p))" in training
    assert "assert torch.allclose(ours, theirs, atol=1e-5)" in training  # BatchNorm1d, training mode
    assert (
        "batch_norm(test_batch, gamma, beta, running, training=False), bn(test_batch)" in training
    )  # eval mode
    assert 'assert torch.allclose(running["var"], bn.running_var' in training
    assert "2(1 + \\mu)/25 = 0.152" in markdown_of("07_training_well")


def test_training_chapters_adam_equals_torch_adam_step_by_step() -> None:
    """Does the chapter's own adam_step, run here outside the notebook, follow torch.optim.Adam for 100 steps?"""
    import torch

    adam_step = chapter_function("07_training_well", "adam_step")["adam_step"]
    torch.manual_seed(0)
    ours = [torch.randn(5, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)]
    theirs = [p.clone().requires_grad_() for p in ours]
    optimizer, state = torch.optim.Adam(theirs, lr=0.05, betas=(0.8, 0.99), eps=1e-8), {}
    for _ in range(100):
        grads = [torch.randn_like(p) * 10 ** torch.randint(-3, 3, ()).item() for p in ours]
        adam_step(ours, grads, state, lr=0.05, betas=(0.8, 0.99), eps=1e-8)
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        optimizer.step()
        assert all(
            torch.allclose(a, b.detach(), rtol=0, atol=1e-10) for a, b in zip(ours, theirs, strict=True)
        )


def test_training_chapters_batch_norm_equals_torch_in_both_modes() -> None:
    """Does the chapter's batch_norm, run here, equal nn.BatchNorm1d in training mode (with its running
    statistics) and in evaluation mode?"""
    import torch

    batch_norm = chapter_function("07_training_well", "batch_norm")["batch_norm"]
    torch.manual_seed(1)
    bn = torch.nn.BatchNorm1d(3, momentum=0.2).double()
    running = {"mean": torch.zeros(3, dtype=torch.float64), "var": torch.ones(3, dtype=torch.float64)}
    gamma, beta = bn.weight.detach(), bn.bias.detach()
    for n in (2, 7, 30):
        x = torch.randn(n, 3, dtype=torch.float64) * 4 + 1
        assert torch.allclose(batch_norm(x, gamma, beta, running, training=True, momentum=0.2), bn.train()(x))
    assert torch.allclose(running["mean"], bn.running_mean) and torch.allclose(running["var"], bn.running_var)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(batch_norm(x, gamma, beta, running, training=False), bn.eval()(x))


@pytest.mark.slow
def test_training_page_shows_the_initial_loss_and_the_optimiser_checks(site: Path) -> None:
    """Does chapter 7 print an initial loss near log(10) = 2.3026, our optimisers within 1e-6 of torch.optim,
    and the batch-normalisation check?"""
    text = page_text(site, "07_training_well")
    initial = re.search(r"initial loss ([\d.]+); log\(10\) = 2\.3026", text)
    assert initial and abs(float(initial.group(1)) - 2.302585) < 0.05
    for name in ("SGD with momentum", "RMSProp", "Adam"):
        found = re.search(rf"{name} +largest difference from torch\.optim over 30 steps: ([\d.e+-]+)", text)
        assert found and float(found.group(1)) < 1e-6, name
    assert "both equal to nn.BatchNorm1d" in text
    assert "agree with torch.optim step by step" in text


@pytest.mark.slow
def test_training_page_embeds_every_optimiser_frame(site: Path) -> None:
    """Does the optimiser widget carry all 4 x 7 precomputed frames, each with its own alt text, and the links?"""
    models = widget_models(page_text(site, "07_training_well"))
    names = [model["model_name"] for model in models]
    assert names.count("SelectionSliderModel") == 2
    assert names.count("StackModel") == 1 + 4  # the learning rates, and one stack of steps per learning rate
    assert names.count("LinkModel") == 1 + 4
    alts = {
        match
        for model in models
        if model["model_name"] == "HTMLModel"
        for match in re.findall(r'alt="([^"]*)"', model["state"].get("value", ""))
    }
    assert len(alts) == 28
    assert any(
        "learning rate 0.3 after 80 steps" in alt and "SGD diverges" in alt and "momentum diverges" in alt
        for alt in alts
    )
    assert any(
        "learning rate 0.09 after 80 steps" in alt and "SGD diverges" in alt and "momentum at" in alt
        for alt in alts
    )


TRANSFORMERS = "09_transformers"


def chapter_definitions(notebook: str, *names: str) -> dict:
    """Run the definitions of `names` (functions and classes) from the code cells of `notebook`, in the
    notebook's order, in one namespace that holds only math, torch, nn and F; return the namespace.

    A cell's definitions are its top-level chunks (separated by two blank lines) that start with `def`,
    `class` or a decorator, up to the first that does not: the checks after them are left out.
    """
    import math

    import torch

    namespace = {"math": math, "torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    cells = [
        c.source
        for c in nbformat.read(BOOK / f"{notebook}.ipynb", as_version=4).cells
        if c.cell_type == "code"
    ]
    for source in cells:
        if not any(re.search(rf"^(?:def|class) {name}\b", source, re.MULTILINE) for name in names):
            continue
        definitions = []
        for chunk in source.split("\n\n\n"):
            if not chunk.lstrip().startswith(("def ", "class ", "@")):
                break
            definitions.append(chunk)
        exec(compile("\n\n\n".join(definitions), f"{notebook}", "exec"), namespace)
    missing = [name for name in names if name not in namespace]
    assert not missing, f"{notebook} defines no {missing}"
    return namespace


def test_transformer_chapter_asserts_its_pinned_facts() -> None:
    """Does chapter 9 assert its attention against torch's, its multi-head attention against
    nn.MultiheadAttention, the growth of var(q·k) with d, and a trained loss below the bigram model's;
    and does it quote the Transformer's BLEU scores as reported, saying where they come from?"""
    code = code_of(TRANSFORMERS)
    assert "reference = F.scaled_dot_product_attention(q, k, v)" in code
    assert "assert torch.allclose(out, reference, atol=1e-6)" in code
    assert "F.scaled_dot_product_attention(x, x, x, is_causal=True), atol=1e-6)" in code
    assert "theirs = nn.MultiheadAttention(d_model, n_heads, batch_first=True)" in code
    assert (
        "assert torch.allclose(out, reference, atol=1e-5) and torch.allclose(weights, reference_weights"
        in code
    )
    assert "assert abs(var / d - 1) < 0.1 and abs(var_scaled - 1) < 0.1" in code
    assert "assert val_loss < bigram_loss < math.log(len(chars))" in code
    text = " ".join(markdown_of(TRANSFORMERS).split())
    assert "**28.4 BLEU on the WMT 2014 English-to-German translation task**" in text
    assert "**41.8 BLEU on WMT 2014 English-to-French**" in text
    assert "**after training for 3.5 days on eight GPUs**" in text
    assert "as Vaswani et al. report them in the abstract of *Attention is all you need*" in text
    assert "We quote these numbers; reproducing them" in text


def test_transformer_chapter_attention_equals_torch_with_and_without_masks() -> None:
    """Does the chapter's attention, run here on fresh inputs, equal F.scaled_dot_product_attention with no
    mask, the causal mask and an arbitrary boolean mask?"""
    import torch

    ns = chapter_definitions(TRANSFORMERS, "attention", "causal_mask", "padding_mask")
    attention, causal_mask, padding_mask = ns["attention"], ns["causal_mask"], ns["padding_mask"]
    sdpa = torch.nn.functional.scaled_dot_product_attention
    generator = torch.Generator().manual_seed(9)
    for shape_q, shape_kv, d_v in [
        ((5, 3), (5, 3), 3),
        ((2, 4, 11, 16), (2, 4, 11, 16), 7),
        ((3, 6, 8), (3, 9, 8), 2),
    ]:
        q = torch.randn(shape_q, dtype=torch.float64, generator=generator)
        k = torch.randn(shape_kv, dtype=torch.float64, generator=generator) * 3
        v = torch.randn((*shape_kv[:-1], d_v), dtype=torch.float64, generator=generator)
        out, weights = attention(q, k, v)
        assert torch.allclose(out, sdpa(q, k, v)) and torch.allclose(
            weights.sum(-1), torch.ones(weights.shape[:-1]).double()
        )
        t_q, t_k = q.shape[-2], k.shape[-2]
        allowed = torch.rand((t_q, t_k), generator=generator) < 0.6
        allowed[:, 0] = True  # every query sees at least one key
        assert torch.allclose(attention(q, k, v, allowed)[0], sdpa(q, k, v, attn_mask=allowed))
        assert torch.all(attention(q, k, v, allowed)[1][..., ~allowed] == 0)
        if t_q == t_k:
            assert torch.allclose(attention(q, k, v, causal_mask(t_q))[0], sdpa(q, k, v, is_causal=True))
    x = torch.randn(3, 6, 4, dtype=torch.float64, generator=generator)
    mask = padding_mask([6, 2, 4], 6)
    assert mask.shape == (3, 1, 6) and mask[1, 0].tolist() == [True, True, False, False, False, False]
    assert torch.allclose(attention(x, x, x, mask)[0], sdpa(x, x, x, attn_mask=mask))


def test_transformer_chapter_multi_head_attention_equals_torch_with_copied_weights() -> None:
    """Does the chapter's MultiHeadAttention equal nn.MultiheadAttention with the same weights, in its outputs
    and every head's weights, with causal and padding masks, for several widths and numbers of heads?"""
    import torch

    ns = chapter_definitions(TRANSFORMERS, "attention", "causal_mask", "padding_mask", "MultiHeadAttention")
    causal_mask, padding_mask = ns["causal_mask"], ns["padding_mask"]
    torch.manual_seed(3)
    for d_model, n_heads, t in [(12, 1, 5), (24, 3, 8), (64, 8, 13)]:
        ours = ns["MultiHeadAttention"](d_model, n_heads).double()
        theirs = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True).double()
        with torch.no_grad():
            theirs.in_proj_weight.copy_(ours.qkv.weight)
            theirs.in_proj_bias.copy_(ours.qkv.bias)
            theirs.out_proj.weight.copy_(ours.out.weight)
            theirs.out_proj.bias.copy_(ours.out.bias)
        x = torch.randn(4, t, d_model, dtype=torch.float64)
        lengths = [t, t - 1, 2, 1]
        for mask, masks in [
            (None, {}),
            (causal_mask(t), {"attn_mask": ~causal_mask(t)}),
            (padding_mask(lengths, t), {"key_padding_mask": ~padding_mask(lengths, t)[:, 0]}),
        ]:
            out, weights = ours(x, mask)
            expected, expected_weights = theirs(
                x, x, x, need_weights=True, average_attn_weights=False, **masks
            )
            assert torch.allclose(out, expected) and torch.allclose(weights, expected_weights)


def test_transformer_chapter_block_equals_torchs_pre_norm_encoder_layer() -> None:
    """Is the chapter's TransformerBlock nn.TransformerEncoderLayer(norm_first=True, activation="gelu") with
    the same weights, with and without the causal mask?"""
    import torch

    ns = chapter_definitions(
        TRANSFORMERS, "attention", "causal_mask", "MultiHeadAttention", "TransformerBlock"
    )
    torch.manual_seed(4)
    block = ns["TransformerBlock"](d_model=20, n_heads=5, d_hidden=48).double()
    layer = torch.nn.TransformerEncoderLayer(
        20, 5, dim_feedforward=48, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).double()
    with torch.no_grad():
        for norm in (block.norm1, block.norm2):  # learned scales and shifts other than 1 and 0
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
        layer.self_attn.in_proj_weight.copy_(block.attention.qkv.weight)
        layer.self_attn.in_proj_bias.copy_(block.attention.qkv.bias)
        layer.self_attn.out_proj.load_state_dict(block.attention.out.state_dict())
        layer.linear1.load_state_dict(block.mlp[0].state_dict())
        layer.linear2.load_state_dict(block.mlp[2].state_dict())
        layer.norm1.load_state_dict(block.norm1.state_dict())
        layer.norm2.load_state_dict(block.norm2.state_dict())
    x = torch.randn(3, 10, 20, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(block(x)[0], layer(x))
        assert torch.allclose(block(x, ns["causal_mask"](10))[0], layer(x, src_mask=~ns["causal_mask"](10)))


def test_transformer_chapter_positions_are_the_papers_sinusoids() -> None:
    """Are the chapter's encodings sin(p / 10000^(2i/d)) and cos(...), with PE_p · PE_(p+k) independent of p?"""
    import math

    import torch

    sinusoidal_positions = chapter_definitions(TRANSFORMERS, "sinusoidal_positions")["sinusoidal_positions"]
    pe = sinusoidal_positions(50, 12)
    assert pe.shape == (50, 12)
    for p in (0, 7, 49):
        for i in range(6):
            angle = p / 10000 ** (2 * i / 12)
            assert math.isclose(pe[p, 2 * i].item(), math.sin(angle), abs_tol=1e-5)
            assert math.isclose(pe[p, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-5)
    for k in (1, 3, 17):
        products = (pe[: 50 - k] * pe[k:]).sum(dim=1)
        assert torch.allclose(products, products[0].expand_as(products), atol=1e-4)


def test_transformer_chapter_tiny_gpt_is_causal_and_counts_its_parameters() -> None:
    """Does a fresh TinyGPT give logits at a position that no later token changes, and 12d² + 13d parameters
    per block plus the embedding, the final norm and the head?"""
    import torch

    ns = chapter_definitions(
        TRANSFORMERS, "attention", "causal_mask", "MultiHeadAttention", "sinusoidal_positions",
        "TransformerBlock", "TinyGPT",
    )  # fmt: skip
    torch.manual_seed(5)
    vocab, d = 11, 16
    model = ns["TinyGPT"](vocab, context=12, d_model=d, n_heads=2, n_layers=3).eval()
    assert (
        sum(p.numel() for p in model.parameters())
        == 3 * (12 * d**2 + 13 * d) + vocab * d + 2 * d + d * vocab + vocab
    )
    idx = torch.randint(0, vocab, (2, 12))
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % vocab
    with torch.no_grad():
        logits, weights = model(idx)
        logits_changed, _ = model(changed)
    assert logits.shape == (2, 12, vocab) and len(weights) == 3 and weights[0].shape == (2, 2, 12, 12)
    assert torch.allclose(logits[:, :7], logits_changed[:, :7], atol=1e-6)
    assert not torch.allclose(logits[:, 7:], logits_changed[:, 7:], atol=1e-3)


@pytest.mark.slow
def test_transformer_page_shows_the_measured_loss_and_embeds_the_attention_frames(site: Path) -> None:
    """Does chapter 9's page print its checks against torch, a validation loss measured at build time below the
    bigram model's, generated text, and carry all 2 x 4 x 6 attention frames behind three linked sliders?"""
    import math

    text = page_text(site, TRANSFORMERS)
    found = re.search(r"largest difference from F\.scaled_dot_product_attention: ([\d.e+-]+)", text)
    assert found and float(found.group(1)) < 1e-6
    assert "with a causal mask, a padding mask and both: equal to F.scaled_dot_product_attention" in text
    for name in ("no mask", "causal", "causal and padding"):
        found = re.search(rf"{name}: outputs differ by ([\d.e+-]+), weights by ([\d.e+-]+)", text)
        assert found and float(found.group(1)) < 1e-5 and float(found.group(2)) < 1e-6, name
    vocab = re.search(r"([\d,]+) characters, (\d+) different ones", text)
    assert vocab and int(vocab.group(1).replace(",", "")) > 50_000
    losses = re.search(
        r"loss on the training text ([\d.]+), validation loss ([\d.]+) nats per character\s+"
        r"\(bigram model ([\d.]+), uniform guess ([\d.]+)\)",
        text,
    )
    assert losses, "the measured losses are not on the page"
    train, val, bigram, uniform = map(float, losses.groups())
    assert abs(uniform - math.log(int(vocab.group(2)))) < 1e-3
    assert train < val < bigram < uniform
    assert re.search(r"--- temperature 0\.7\n(?:\s*<[^>]*>)*\s*Return the \w", text), "no generated text"
    assert "28.4 BLEU" in text and "41.8 BLEU" in text

    models = widget_models(text)
    names = [model["model_name"] for model in models]
    assert names.count("SelectionSliderModel") == 3
    assert names.count("StackModel") == 1 + 2 + 2 * 4  # layers; heads per layer; queries per head
    assert names.count("LinkModel") == 1 + 2 + 2 * 4
    sliders = [m["state"] for m in models if m["model_name"] == "SelectionSliderModel"]
    assert [s["description"] for s in sliders] == ["layer", "head", "query position"]
    assert [len(s["_options_labels"]) for s in sliders] == [2, 4, 6]
    alts = {
        match
        for model in models
        if model["model_name"] == "HTMLModel"
        for match in re.findall(r'alt="([^"]*)"', model["state"].get("value", ""))
    }
    assert len(alts) == 48
    assert any(
        alt.startswith("Attention weights of layer 2, head 4, for the query '.' at position 30")
        for alt in alts
    )


RECURRENT = "08_recurrent"


def test_recurrent_chapter_asserts_its_pinned_facts() -> None:
    """Does chapter 8 assert its RNN, BPTT, LSTM and GRU against torch's, that clipping bounds the norm, that a
    plain RNN's gradient shrinks at every step back with small weights, and that its language model starts at
    log V and ends below the bigram baseline?"""
    code = code_of(RECURRENT)
    assert "ours = rnn_forward(x, h0, *weights_of(rnn))" in code
    assert "assert torch.allclose(grads[name], autograd, atol=1e-5)" in code  # BPTT against autograd
    assert "ours, (h_ours, c_ours) = lstm_forward(x, h0, c0, *weights_of(lstm))" in code
    assert "theirs, (h_theirs, c_theirs) = lstm(x, (h0[None], c0[None]))" in code
    assert "torch.allclose(c_ours, c_theirs[0], atol=1e-6)" in code
    assert "ours, h_ours = gru_forward(x, h0, *weights_of(gru))" in code
    assert (
        "assert torch.allclose(ours, theirs, atol=1e-6) and torch.allclose(h_ours, h_theirs[0], atol=1e-6)"
        in code
    )
    assert "assert norm_before > 1 and norm_after <= 1.0 + 1e-6" in code
    assert "assert (small[1:] < small[:-1]).all()" in code and "assert small[T_DEMO] < 1e-10" in code
    assert "assert count == blocks * (features + hidden + 2) * hidden" in code
    assert "assert abs(initial - math.log(V)) < 0.1" in code and "assert final < bigram" in code


def recurrent_layer(kind: str, features: int, hidden: int, seed: int):
    """A one-layer torch recurrent layer in double precision, with its biases drawn too (not left at init)."""
    import torch

    torch.manual_seed(seed)
    layer = getattr(torch.nn, kind)(features, hidden, batch_first=True).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.uniform_(-0.8, 0.8)
    weights = [
        getattr(layer, f"{name}_l0").detach().clone()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    return layer, weights


SHAPES = [(1, 1, 1, 1), (3, 5, 4, 2), (2, 20, 7, 8)]  # (N, T, features, hidden)


def test_recurrent_chapters_lstm_equals_torch_lstm_on_copied_weights() -> None:
    """Does the chapter's lstm_forward, run here outside the notebook, equal nn.LSTM with the same weights, in
    every output and in the last (h, c), for several shapes and fresh random inputs and states?"""
    import torch

    lstm_forward = chapter_function(RECURRENT, "lstm_forward")["lstm_forward"]
    for seed, (n, t, features, hidden) in enumerate(SHAPES):
        lstm, weights = recurrent_layer("LSTM", features, hidden, seed)
        x = torch.randn(n, t, features, dtype=torch.float64) * 2
        h0, c0 = torch.randn(n, hidden, dtype=torch.float64), torch.randn(n, hidden, dtype=torch.float64)
        ours, (h, c) = lstm_forward(x, h0, c0, *weights)
        theirs, (h_t, c_t) = lstm(x, (h0[None], c0[None]))
        assert ours.shape == (n, t, hidden)
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-12)
        assert torch.allclose(h, h_t[0], rtol=0, atol=1e-12) and torch.allclose(c, c_t[0], rtol=0, atol=1e-12)


def test_recurrent_chapters_gru_equals_torch_gru_on_copied_weights() -> None:
    """Does the chapter's gru_forward, run here, equal nn.GRU with the same weights for several shapes?"""
    import torch

    gru_forward = chapter_function(RECURRENT, "gru_forward")["gru_forward"]
    for seed, (n, t, features, hidden) in enumerate(SHAPES):
        gru, weights = recurrent_layer("GRU", features, hidden, seed)
        x = torch.randn(n, t, features, dtype=torch.float64) * 2
        h0 = torch.randn(n, hidden, dtype=torch.float64)
        ours, h = gru_forward(x, h0, *weights)
        theirs, h_t = gru(x, h0[None])
        assert ours.shape == (n, t, hidden)
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-12) and torch.allclose(
            h, h_t[0], rtol=0, atol=1e-12
        )


def test_recurrent_chapters_backpropagation_through_time_equals_autograd() -> None:
    """Do the chapter's rnn_forward and rnn_backward, run here, equal nn.RNN's outputs and autograd's gradients
    of every weight and of the initial state, for a loss that weights every step's state differently?"""
    import torch

    rnn_forward = chapter_function(RECURRENT, "rnn_forward")["rnn_forward"]
    rnn_backward = chapter_function(RECURRENT, "rnn_backward")["rnn_backward"]
    for seed, (n, t, features, hidden) in enumerate(SHAPES):
        rnn, (W_ih, W_hh, b_ih, b_hh) = recurrent_layer("RNN", features, hidden, seed)
        x = torch.randn(n, t, features, dtype=torch.float64)
        h0 = torch.randn(n, hidden, dtype=torch.float64, requires_grad=True)
        states = rnn_forward(x, h0.detach(), W_ih, W_hh, b_ih, b_hh)
        theirs, _ = rnn(x, h0[None])
        assert torch.allclose(states, theirs, rtol=0, atol=1e-12)
        upstream = torch.randn(n, t, hidden, dtype=torch.float64)
        (upstream * theirs).sum().backward()
        grads, delta = rnn_backward(x, h0.detach(), states, upstream, W_ih, W_hh)
        assert delta.shape == (n, t + 1, hidden)
        assert torch.allclose(grads["W_ih"], rnn.weight_ih_l0.grad, rtol=0, atol=1e-10)
        assert torch.allclose(grads["W_hh"], rnn.weight_hh_l0.grad, rtol=0, atol=1e-10)
        assert torch.allclose(grads["b"], rnn.bias_ih_l0.grad, rtol=0, atol=1e-10)
        assert torch.allclose(delta[:, 0], h0.grad, rtol=0, atol=1e-10)


@pytest.mark.slow
def test_recurrent_page_shows_the_checks_and_embeds_every_state_and_gradient_frame(site: Path) -> None:
    """Does chapter 8 print its LSTM and GRU within 1e-5 of torch's, a clipped norm of at most 1, a language
    model that starts at log V and ends below the bigram baseline, and embed all 3 x 7 frames of its widget?"""
    text = page_text(site, RECURRENT)
    for name in ("LSTM: largest difference from nn.LSTM", "GRU: largest difference from nn.GRU"):
        found = re.search(rf"{name} ([\d.e+-]+)", text)
        assert found and float(found.group(1)) < 1e-5, name
    clipped = re.search(r"gradient norm before clipping ([\d.]+), after ([\d.]+)", text)
    assert clipped and float(clipped.group(1)) > 1 and float(clipped.group(2)) <= 1.0001
    bigram = re.search(r"bigram, on validation +([\d.]+) nats", text)
    losses = re.search(
        r"validation loss before training ([\d.]+) \(log V = ([\d.]+)\), after \d+ steps ([\d.]+)", text
    )
    assert bigram and losses
    assert abs(float(losses.group(1)) - float(losses.group(2))) < 0.1
    assert float(losses.group(3)) < float(bigram.group(1))
    models = widget_models(text)
    names = [model["model_name"] for model in models]
    assert names.count("SelectionSliderModel") == 2
    assert names.count("StackModel") == 1 + 3  # the weight scales, and one stack of steps per scale
    assert names.count("LinkModel") == 1 + 3
    alts = {
        match
        for model in models
        if model["model_name"] == "HTMLModel"
        for match in re.findall(r'alt="([^"]*)"', model["state"].get("value", ""))
    }
    assert len(alts) == 21
    assert any(
        alt.startswith("Weight scale 0.5, step 40 of 40.") and "shrinks going back" in alt for alt in alts
    )
    assert any(
        alt.startswith("Weight scale 2.0, step 40 of 40.") and "grows going back" in alt for alt in alts
    )


@pytest.mark.slow
@pytest.mark.browser
def test_transformer_pages_three_sliders_switch_the_attention_frame_in_browser(
    site: Path, tmp_path: Path
) -> None:
    """With no kernel, do the layer, head and query sliders each change the attention frame that is shown?"""
    with browse(site, tmp_path) as (browser, base):
        browser.open(f"{base}/book/{TRANSFORMERS}.html")
        assert browser.wait_until(f"({SHOWN_FRAMES}).length > 0"), "no attention frame rendered"  # 48 frames
        assert "layer 1, head 1, for the query 'n' at position 5 " in browser.evaluate(SHOWN_FRAMES)
        browser.press_right(2, 5)  # the query to the last position, the full stop
        assert "layer 1, head 1, for the query '.' at position 30 " in browser.evaluate(SHOWN_FRAMES)
        browser.press_right(1, 3)  # the head to the last, 4
        assert "layer 1, head 4, for the query '.' at position 30 " in browser.evaluate(SHOWN_FRAMES)
        browser.press_right(0, 1)  # the layer to 2
        frame = browser.evaluate(SHOWN_FRAMES)
        assert "layer 2, head 4, for the query '.' at position 30 " in frame and " | " not in frame


@pytest.mark.slow
@pytest.mark.browser
def test_recurrent_sliders_switch_the_state_and_gradient_frame_in_browser(site: Path, tmp_path: Path) -> None:
    """With no kernel, do chapter 8's weight-scale and step sliders each change the shown frame?"""
    with browse(site, tmp_path) as (browser, base):
        browser.open(f"{base}/book/08_recurrent.html")
        for _ in range(
            30
        ):  # 21 large frames: on a busy machine the widget may take longer than the usual settle
            if browser.evaluate(SHOWN_FRAMES):
                break
            browser.wait(1)
        assert browser.evaluate(SHOWN_FRAMES).startswith("Weight scale 0.5, step 1 of 40.")
        browser.press_right(1, 6)  # step 1 -> 5 -> 10 -> 15 -> 20 -> 30 -> 40
        frame = browser.evaluate(SHOWN_FRAMES)
        assert frame.startswith("Weight scale 0.5, step 40 of 40.") and "shrinks going back" in frame
        browser.press_right(0, 2)  # weight scale 0.5 -> 1.0 -> 2.0
        frame = browser.evaluate(SHOWN_FRAMES)
        assert frame.startswith("Weight scale 2.0, step 40 of 40.") and "grows going back" in frame
        assert " | " not in frame  # one frame shown, not several


RL = "11_reinforcement"
RL_OPTIMUM = -0.04311310541347702  # the optimal expected return of chapter 11's blackjack, natural paying 1


def rl_chapter(*names: str) -> dict:
    """Run the definitions of chapter 11's code cells, in the notebook's order, up to the last cell that defines
    one of `names`, and return them.

    As chapter_definitions, but every cell's definitions are run (the functions call each other across
    cells), a cell's leading constants (upper-case names: the card probabilities, STICK and HIT) count as
    definitions too, a constant that needs the notebook's results (a NameError) is left out, and the
    namespace also holds random, Fraction and cache.
    """
    import math
    import random
    from fractions import Fraction
    from functools import cache

    import torch

    namespace = {"math": math, "random": random, "Fraction": Fraction, "cache": cache, "torch": torch}
    definition = re.compile(r"(def |class |@|[A-Z][A-Z0-9_]*(, [A-Z][A-Z0-9_]*)* = )")
    cells = [
        c.source for c in nbformat.read(BOOK / f"{RL}.ipynb", as_version=4).cells if c.cell_type == "code"
    ]
    wanted = [
        i
        for i, source in enumerate(cells)
        for name in names
        if re.search(rf"^(?:def|class) {name}\b", source, re.M)
    ]
    for source in cells[: max(wanted, default=-1) + 1]:
        for chunk in source.split("\n\n\n"):
            if not definition.match(chunk.lstrip()):
                break
            try:
                exec(compile(chunk, RL, "exec"), namespace)
            except (
                NameError
            ):  # a constant computed from the notebook's results, such as STATES = sorted(q_star)
                pass
    missing = [name for name in names if name not in namespace]
    assert not missing, f"{RL} defines no {missing}"
    return namespace


def independent_blackjack_optimum(natural: float = 1.0) -> float:
    """The optimal expected return of the chapter's rules, written here apart from the chapter: hands as
    (total with aces as 1, holds an ace), floats, and the Bellman optimality equation by memoised recursion."""
    from functools import cache

    cards = [(c, (4 if c == 10 else 1) / 13) for c in range(1, 11)]

    def best_sum(total: int, ace: bool) -> int:
        return total + 10 if ace and total + 10 <= 21 else total

    @cache
    def dealer(total: int, ace: bool) -> tuple[float, ...]:
        """Probabilities of the dealer ending on 17, 18, 19, 20, 21 and bust."""
        s = best_sum(total, ace)
        if s >= 17:
            return tuple(float(s == k) for k in range(17, 22)) + (0.0,) if s <= 21 else (0.0,) * 5 + (1.0,)
        mix = [0.0] * 6
        for c, p in cards:
            for k, q in enumerate(dealer(total + c, ace or c == 1)):
                mix[k] += p * q
        return tuple(mix)

    def stick(s: int, up: int) -> float:
        final = dealer(up, up == 1)
        return final[5] + sum(q * ((s > 17 + k) - (s < 17 + k)) for k, q in enumerate(final[:5]))

    @cache
    def value(total: int, ace: bool, up: int) -> float:
        if total > 21:
            return -1.0
        hit = sum(p * value(total + c, ace or c == 1, up) for c, p in cards)
        return max(stick(best_sum(total, ace), up), hit)

    game = 0.0
    for c1, p1 in cards:
        for c2, p2 in cards:
            for up, p3 in cards:
                ace = 1 in (c1, c2)
                if best_sum(c1 + c2, ace) == 21:  # a natural, against the dealer's possible one
                    hidden = {1: 4 / 13, 10: 1 / 13}.get(up, 0.0)
                    v = natural * (1 - hidden)
                else:
                    v = value(c1 + c2, ace, up)
                game += p1 * p2 * p3 * v
    return game


def test_rl_chapter_asserts_its_pinned_facts() -> None:
    """Does chapter 11 assert the optimum of its dynamic programming, its reproduction by policy evaluation and by
    simulation, the 3-to-2 gain, the basic strategy's known features and the learners' margins; and does it say
    which rules it plays by?"""
    code = code_of(RL)
    assert "assert reproduced == optimal" in code
    assert "assert abs(float(optimal) - -0.0431131) < 1e-6" in code
    assert "assert abs(mean - float(optimal)) < 4 * stderr" in code
    assert "assert gain == Fraction(1, 2) * Fraction(8, 169) * Fraction(" in code
    assert "assert all(basic_strategy[(s, d, False)] == HIT for s in range(4, 12))" in code
    assert "assert all(basic_strategy[(s, d, False)] == STICK for s in range(17, 22))" in code
    assert "assert error < 1e-3" in code  # Q-learning on the corridor, against the closed form
    assert "assert 0 <= q_gap < 0.005" in code and "assert 0 <= dqn_gap < 0.04" in code
    assert "assert abs(float(bust_6) - 0.4232) < 1e-4" in code
    text = " ".join(markdown_of(RL).split())
    assert "Sutton and Barto's Example 5.1, which gymnasium's `Blackjack-v1` follows with `sab=True`" in text
    assert (
        "stands on every 17, soft ones too" in text and "There is no doubling, splitting or insurance" in text
    )
    assert "loses about 4.3 % of the stake per hand" in text and "42.3 % of the time" in text


def test_rl_chapter_dynamic_programming_gives_the_exact_optimum_that_independent_code_reproduces() -> None:
    """Is the chapter's solve_blackjack optimum, a fraction, -0.0431131...; does the chapter's own policy evaluation
    of the greedy policy give exactly the same fraction, and a solver written here apart the same number; and do 3-to-2
    naturals add exactly P(natural) P(no dealer natural) / 2?"""
    from fractions import Fraction

    chapter = rl_chapter("solve_blackjack", "evaluate_policy", "dealer_showing")
    q, optimal = chapter["solve_blackjack"]()
    assert isinstance(optimal, Fraction) and abs(float(optimal) - RL_OPTIMUM) < 1e-15
    assert len(q) == 280  # hard sums 4 to 21 and soft 12 to 21, against 10 dealer cards
    greedy = {state: int(hit > stick) for state, (stick, hit) in q.items()}
    assert chapter["evaluate_policy"](greedy.__getitem__)[0] == optimal
    assert abs(independent_blackjack_optimum() - float(optimal)) < 1e-12
    _, casino = chapter["solve_blackjack"](natural=Fraction(3, 2))
    assert casino - optimal == Fraction(1, 2) * Fraction(8, 169) * Fraction(161, 169)
    assert abs(independent_blackjack_optimum(1.5) - float(casino)) < 1e-12
    for card in range(1, 11):
        assert sum(chapter["dealer_showing"](card).values()) == 1
    assert abs(float(chapter["dealer_showing"](6)[22]) - 0.42315) < 1e-5  # the dealer's bust with a 6 up


def test_rl_chapter_basic_strategy_hits_11_or_less_and_stands_on_hard_17_or_more() -> None:
    """Does the chapter's optimal strategy always hit 11 or less and stand on hard 17 and more and on soft 19 and
    more, and stick on hard 13 to 16 exactly against a dealer's 2 to 6, as every basic-strategy card says?"""
    q, _ = rl_chapter("solve_blackjack")["solve_blackjack"]()
    hits = {state: hit > stick for state, (stick, hit) in q.items()}
    for dealer in range(1, 11):
        assert all(hits[(s, dealer, False)] for s in range(4, 12))
        assert not any(hits[(s, dealer, False)] for s in range(17, 22))
        assert not any(hits[(s, dealer, True)] for s in range(19, 22))
        assert all(hits[(s, dealer, False)] == (not 2 <= dealer <= 6) for s in range(13, 17))


def test_rl_chapter_environment_plays_the_game_its_exact_model_describes() -> None:
    """Does the chapter's Blackjack environment, played here by a policy the chapter never shows ('stick on 17'),
    average within four standard errors of that policy's exact value from evaluate_policy?"""
    chapter = rl_chapter("Blackjack", "play", "evaluate_policy")

    def policy(state):
        return 0 if state[0] >= 17 else 1

    exact = float(chapter["evaluate_policy"](policy)[0])
    env, episodes = chapter["Blackjack"](seed=123), 40_000
    rewards = [chapter["play"](env, policy)[1] for _ in range(episodes)]
    mean = sum(rewards) / episodes
    stderr = (sum((r - mean) ** 2 for r in rewards) / episodes / episodes) ** 0.5
    assert abs(mean - exact) < 4 * stderr and -0.1 < exact < -0.05


def test_rl_chapter_q_learning_converges_to_the_closed_form_q_values_of_a_corridor() -> None:
    """Does the chapter's q_learning, on a corridor of five cells with gamma 0.8 (longer than the chapter's), reach
    Q*(s, right) = gamma^(3 - s) and Q*(s, left) = gamma V*(max(s - 1, 0)); and do too few episodes fall short?"""
    import random

    chapter = rl_chapter("q_learning", "Corridor")
    gamma = 0.8
    v_star = {s: gamma ** (3 - s) for s in range(4)}
    closed_form = {s: [gamma * v_star[max(s - 1, 0)], v_star[s]] for s in range(4)}

    def error(episodes: int) -> float:
        q = chapter["q_learning"](chapter["Corridor"](5), episodes, {}, {}, random.Random(1), 0.5, gamma, 0.5)
        return max(abs(q.get(s, [0.0, 0.0])[a] - closed_form[s][a]) for s in range(4) for a in range(2))

    assert error(3_000) < 1e-6
    assert error(3) > 0.1


@pytest.mark.slow
def test_rl_page_shows_the_measured_returns_and_embeds_the_learned_policy_frames(site: Path) -> None:
    """Does chapter 11's page print the exact optimum, the learners' measured returns below it (Q-learning within
    0.005 after 300,000 episodes), and carry all 2 x 7 frames of the learned values behind two linked sliders?"""
    text = page_text(site, RL)
    assert "the optimal expected return is -0.043113 per game" in text
    simulated = re.search(r"the basic strategy over 50,000 simulated games: ([+-][\d.]+) ± ([\d.]+)", text)
    assert simulated and abs(float(simulated.group(1)) - RL_OPTIMUM) < 4 * float(simulated.group(2))
    row = re.search(r"300,000 +([+-][\d.]+) +([\d.]+) +(\d+) of 280", text)
    assert (
        row
        and 0 <= float(row.group(2)) < 0.005
        and abs(float(row.group(1)) + float(row.group(2)) - RL_OPTIMUM) < 2e-5
    )
    reinforce = re.search(
        r"REINFORCE, 100,000 games in [\d.]+ s: expected return ([+-][\d.]+) at first, ([+-][\d.]+)", text
    )
    assert reinforce and float(reinforce.group(1)) < float(reinforce.group(2)) < RL_OPTIMUM
    dqn = re.search(r"greedy policy's expected return ([+-][\d.]+) \(optimum -0\.0431\)", text)
    assert dqn and RL_OPTIMUM - 0.04 < float(dqn.group(1)) <= RL_OPTIMUM
    assert "the baseline removes" in text and "largest error" in text

    models = widget_models(text)
    names = [model["model_name"] for model in models]
    assert names.count("SelectionSliderModel") == 2
    assert names.count("StackModel") == 1 + 2 and names.count("LinkModel") == 1 + 2
    sliders = [m["state"] for m in models if m["model_name"] == "SelectionSliderModel"]
    assert [s["description"] for s in sliders] == ["usable ace", "episodes"]
    assert [len(s["_options_labels"]) for s in sliders] == [2, 7]
    alts = {
        match
        for model in models
        if model["model_name"] == "HTMLModel"
        for match in re.findall(r'alt="([^"]*)"', model["state"].get("value", ""))
    }
    assert len(alts) == 14
    assert any(alt.startswith("Q-learning after 300,000 episodes, hands with usable ace") for alt in alts)
    assert any(alt.startswith("Q-learning after 0 episodes, hands with no usable ace") for alt in alts)


GENERATIVE = "10_generative"


def test_generative_chapter_asserts_its_pinned_facts() -> None:
    """Does chapter 10 assert its KL term against torch.distributions, the closed-form q(x_t | x_0) against
    the chain, the sampling step against the posterior mean and its samples between noise and real digits;
    and does it quote DDPM's Inception score and FID as reported, saying where they come from?"""
    code = code_of(GENERATIVE)
    assert "torch.distributions.kl_divergence(q, p)" in code
    assert "torch.allclose(ours, theirs, rtol=1e-10, atol=1e-12)" in " ".join(code.split())
    assert "assert mean_gap < mean_tolerance and var_gap < var_tolerance" in code
    assert "abs(variance - (1 - alpha_bars[t - 1])) < 1e-12" in code
    assert "assert torch.allclose(stepped - sigma * fresh, expected, atol=1e-4)" in code
    assert 'scores["uniform noise"]["digits score"] < scores["diffusion (DDPM)"]["digits score"]' in " ".join(
        code.split()
    )
    text = " ".join(markdown_of(GENERATIVE).split())
    assert "**an Inception score of 9.46**" in text and "**FID score of 3.17**" in text
    assert (
        "DDPM's abstract (Ho, Jain and Abbeel, *Denoising diffusion probabilistic models*, NeurIPS 2020)"
        in text
    )
    assert "We quote these numbers as reported" in text


def test_generative_chapter_kl_equals_torch_distributions_for_diagonal_gaussians() -> None:
    """Is the chapter's closed-form KL, run here on fresh inputs, torch.distributions.kl_divergence of two
    diagonal Gaussians (Independent Normals), and against N(0, I) when the second is left out?"""
    import torch

    kl = chapter_definitions(GENERATIVE, "kl_diagonal_gaussians")["kl_diagonal_gaussians"]
    dist = torch.distributions
    generator = torch.Generator().manual_seed(21)
    for shape in [(1,), (7, 3), (2, 5, 16)]:
        mu_q, mu_p = (torch.randn(shape, dtype=torch.float64, generator=generator) * 3 for _ in range(2))
        logvar_q, logvar_p = (
            torch.randn(shape, dtype=torch.float64, generator=generator) * 2 for _ in range(2)
        )
        q = dist.Independent(dist.Normal(mu_q, (0.5 * logvar_q).exp()), 1)
        p = dist.Independent(dist.Normal(mu_p, (0.5 * logvar_p).exp()), 1)
        standard = dist.Independent(dist.Normal(torch.zeros_like(mu_q), torch.ones_like(mu_q)), 1)
        ours = kl(mu_q, logvar_q, mu_p, logvar_p)
        assert ours.shape == shape[:-1]
        assert torch.allclose(ours, dist.kl_divergence(q, p), rtol=1e-10, atol=1e-12)
        assert torch.allclose(kl(mu_q, logvar_q), dist.kl_divergence(q, standard), rtol=1e-10, atol=1e-12)
    assert kl(torch.zeros(4), torch.zeros(4)).item() == 0.0


def test_generative_chapter_schedule_alpha_bar_is_the_product_of_one_minus_beta() -> None:
    """Is the chapter's linear schedule DDPM's (1e-4 to 0.02 over 1000 steps; stretched for fewer), with
    alpha = 1 - beta and alpha_bar_t the product of alpha_1..alpha_t?"""
    import math

    import torch

    linear_schedule = chapter_definitions(GENERATIVE, "linear_schedule")["linear_schedule"]
    betas, alphas, alpha_bars = linear_schedule(1000)
    assert len(betas) == 1000 and math.isclose(betas[0].item(), 1e-4) and math.isclose(betas[-1].item(), 0.02)
    assert torch.allclose(
        betas[1:] - betas[:-1], torch.full((999,), (0.02 - 1e-4) / 999, dtype=torch.float64)
    )
    for steps in (50, 200, 1000):  # stretched: every beta times 1000 / steps
        betas, alphas, alpha_bars = linear_schedule(steps)
        assert torch.equal(alphas, 1 - betas)
        products = [math.prod(1 - b for b in betas[:t].tolist()) for t in range(1, steps + 1)]
        assert torch.allclose(alpha_bars, torch.tensor(products, dtype=torch.float64), rtol=1e-12)
        assert math.isclose(betas[-1].item(), 0.02 * 1000 / steps)
        assert (alpha_bars[1:] < alpha_bars[:-1]).all()


def test_generative_chapter_q_sample_matches_iterating_the_chain() -> None:
    """Does the chapter's q_sample give x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, whose mean and
    variance equal those of t steps of its forward_chain: exactly by propagation, and measured on runs?"""
    import math

    import torch

    ns = chapter_definitions(GENERATIVE, "linear_schedule", "q_sample", "forward_chain")
    betas, alphas, alpha_bars = ns["linear_schedule"](50)
    generator = torch.Generator().manual_seed(22)
    x0 = torch.rand(3, 8, dtype=torch.float64, generator=generator) * 2 - 1
    t = torch.tensor([1, 17, 50])
    noise = torch.randn(3, 8, dtype=torch.float64, generator=generator)
    expected = alpha_bars[t - 1, None].sqrt() * x0 + (1 - alpha_bars[t - 1, None]).sqrt() * noise
    assert torch.allclose(ns["q_sample"](x0, t, alpha_bars, noise), expected, rtol=0, atol=1e-12)
    mean, variance = (
        1.0,
        0.0,
    )  # one step of the chain maps (mean, variance) to (sqrt(alpha) mean, alpha variance + beta)
    for s in range(1, 51):
        mean, variance = (
            math.sqrt(alphas[s - 1]) * mean,
            alphas[s - 1].item() * variance + betas[s - 1].item(),
        )
        assert math.isclose(mean, alpha_bars[s - 1].sqrt().item(), rel_tol=1e-12)
        assert math.isclose(variance, 1 - alpha_bars[s - 1].item(), rel_tol=1e-12)
    runs = x0[1].expand(40_000, 8)
    for steps in (3, 25, 50):
        chain = ns["forward_chain"](runs, steps, betas, generator)
        closed = ns["q_sample"](
            runs,
            torch.full((40_000,), steps),
            alpha_bars,
            torch.randn(runs.shape, dtype=torch.float64, generator=generator),
        )
        var = 1 - alpha_bars[steps - 1].item()
        for sample in (chain, closed):
            assert (sample.mean(dim=0) - alpha_bars[steps - 1].sqrt() * x0[1]).abs().max() < 5 * math.sqrt(
                var / 40_000
            )
            assert (sample.var(dim=0) - var).abs().max() < 5 * var * math.sqrt(2 / 40_000)


def test_generative_chapter_sampling_step_is_the_posterior_mean_plus_noise() -> None:
    """Is the chapter's ddpm_step, for any noise prediction, the mean of q(x_(t-1) | x_t, x0) at the x0 that the
    prediction implies, plus beta-tilde noise, and noise-free at t = 1; does ddpm_sample run from T to 0?"""
    import torch

    ns = chapter_definitions(
        GENERATIVE, "linear_schedule", "ddpm_step", "x0_from_noise", "posterior_mean", "ddpm_sample"
    )
    betas, _, alpha_bars = ns["linear_schedule"](30)
    generator = torch.Generator().manual_seed(23)
    x_t, guess, x0 = (torch.randn(4, 64, generator=generator) for _ in range(3))

    def predictor(x, t):
        return guess

    for t in (2, 11, 30):
        ab, ab_before, beta = alpha_bars[t - 1].item(), alpha_bars[t - 2].item(), betas[t - 1].item()
        x0_hat = (x_t - (1 - ab) ** 0.5 * guess) / ab**0.5
        assert torch.allclose(ns["x0_from_noise"](x_t, t, guess, alpha_bars), x0_hat, atol=1e-5)
        by_hand = (ab_before**0.5 * beta / (1 - ab)) * x0 + (
            (1 - beta) ** 0.5 * (1 - ab_before) / (1 - ab)
        ) * x_t
        assert torch.allclose(ns["posterior_mean"](x0, x_t, t, betas, alpha_bars), by_hand, atol=1e-5)
        stepped = ns["ddpm_step"](predictor, x_t, t, betas, alpha_bars, torch.Generator().manual_seed(t))
        fresh = torch.randn(4, 64, generator=torch.Generator().manual_seed(t))
        sigma = ((1 - ab_before) / (1 - ab) * beta) ** 0.5
        assert torch.allclose(
            stepped, ns["posterior_mean"](x0_hat, x_t, t, betas, alpha_bars) + sigma * fresh, atol=1e-4
        )
    last = ns["ddpm_step"](predictor, x_t, 1, betas, alpha_bars, generator)
    assert torch.allclose(last, ns["x0_from_noise"](x_t, 1, guess, alpha_bars), atol=1e-4)  # t = 1: no noise
    images, states = ns["ddpm_sample"](predictor, 4, betas, alpha_bars, torch.Generator().manual_seed(0))
    assert sorted(states) == list(range(31)) and torch.equal(states[0], images)


@pytest.mark.slow
def test_generative_page_shows_the_measured_scores_and_embeds_both_widgets_frames(site: Path) -> None:
    """Does chapter 10's page print its checks, the digits scores measured at build time (real digits above the
    diffusion samples above noise), DDPM's quoted 9.46 and 3.17, and carry the 11 diffusion frames and the
    5 x 5 latent frames behind their sliders?"""
    text = page_text(site, GENERATIVE)
    found = re.search(r"largest difference from torch\.distributions\.kl_divergence: ([\d.e+-]+)", text)
    assert found and float(found.group(1)) < 1e-10
    assert (
        "DDPM's step = the posterior mean of q(x_(t-1) | x_t, x0) at the estimated x0, plus noise: checked"
        in text
    )
    measured = {
        name.strip(): tuple(map(float, found))
        for name, *found in re.findall(
            r"([\w ,()]+?): mean confidence ([\d.]+), +([\d.]+)% above 0\.9, digits score ([\d.]+), \d+ classes",
            text,
        )
    }
    real, ddpm, noise = (measured[name] for name in ("real test digits", "diffusion (DDPM)", "uniform noise"))
    assert noise[2] < ddpm[2] < real[2] <= 10 and noise[1] < real[1]
    assert "9.46" in text and "3.17" in text

    models = widget_models(text)
    names = [model["model_name"] for model in models]
    assert names.count("SelectionSliderModel") == 1 + 2
    assert names.count("StackModel") == 1 + (1 + 5)  # the steps; the latent rows and one stack per row
    sliders = [m["state"] for m in models if m["model_name"] == "SelectionSliderModel"]
    assert sorted(s["description"] for s in sliders) == ["step t", "z₁", "z₂"]
    alts = [
        match
        for model in models
        if model["model_name"] == "HTMLModel"
        for match in re.findall(r'alt="([^"]*)"', model["state"].get("value", ""))
    ]
    assert sum(alt.startswith("Step t = ") for alt in alts) == 11
    assert sum(alt.startswith("The latent point (") for alt in alts) == 25
    assert any(alt.startswith("Step t = 200 of 200") for alt in alts)


@pytest.mark.slow
@pytest.mark.browser
def test_rl_sliders_switch_the_learned_policy_frame_in_browser(site: Path, tmp_path: Path) -> None:
    """With no kernel, do chapter 11's episodes and usable-ace sliders each change the shown frame?"""
    with browse(site, tmp_path) as (browser, base):
        browser.open(f"{base}/book/{RL}.html")
        assert browser.wait_until(f"({SHOWN_FRAMES}).length > 0"), "no frame of the learned policy rendered"
        assert browser.evaluate(SHOWN_FRAMES).startswith(
            "Q-learning after 0 episodes, hands with no usable ace"
        )
        browser.press_right(1, 6)  # episodes 0 -> 1,000 -> ... -> 300,000
        assert browser.evaluate(SHOWN_FRAMES).startswith(
            "Q-learning after 300,000 episodes, hands with no usable"
        )
        browser.press_right(0, 1)  # usable ace: no -> yes
        frame = browser.evaluate(SHOWN_FRAMES)
        assert (
            frame.startswith("Q-learning after 300,000 episodes, hands with usable ace")
            and " | " not in frame
        )


RESPONSIBLE = "12_responsible"


def responsible_chapter(*names: str) -> dict:
    """chapter_definitions of chapter 12, with numpy in the namespace too (its group rates are NumPy)."""
    import numpy

    namespace = chapter_definitions(RESPONSIBLE, *names)
    namespace["np"] = numpy
    return namespace


def test_responsible_chapter_asserts_its_facts_and_quotes_its_sources_as_reported() -> None:
    """Does chapter 12 assert the identity of the group rates, the temperature that keeps the predictions, FGSM's
    epsilon-ball and its margin over random signs; does it say its population is synthetic and why, and quote the
    papers' numbers as reported?"""
    code = " ".join(code_of(RESPONSIBLE).split())
    assert 'assert abs(implied_fpr - m["false positive rate"]) < 1e-12' in code
    assert "assert accuracy(scaled_probs, y_test) == test_accuracy" in code
    assert "assert all((a - x).abs().max() <= e + 1e-6 for e, a in adversarial_images.items()" in code
    assert 'assert robustness[0.1]["random signs"] > test_accuracy - 0.02' in code
    assert 'assert sanity["gradient x input"] > 0.8 and sanity["|gradient|"] < 0.4' in code
    assert 'assert moved_1["ECE, T moved"] < 0.4 * moved_1["ECE"]' in code
    text = " ".join(markdown_of(RESPONSIBLE).split())
    assert "**synthetic on purpose**" in text and "nothing can be downloaded here" in text
    assert "34.7 % of darker-skinned women" in text and "0.8 % of lighter-skinned men" in text
    assert "57.7 % confidence" in text and "$\\varepsilon = 0.007$ for a gibbon with 99.3 %" in text
    assert "89.4 % of the FGSM images, with an average confidence of 97.6 %" in text
    assert text.count("as the paper reports them") == 2
    assert "an ethical impact assessment of that machine learning system" in text


def test_responsible_chapter_group_rates_match_counts_and_obey_the_identity() -> None:
    """Are chapter 12's group rates the ratios of the confusion counts, and does FPR = p/(1-p) (1-PPV)/PPV TPR hold
    for random groups, whatever their base rate?"""
    import numpy as np

    group_metrics = responsible_chapter("group_metrics")["group_metrics"]
    rng = np.random.default_rng(12)
    for base_rate in (0.1, 0.3, 0.5, 0.8):
        qualified = rng.random(500) < base_rate
        selected = rng.random(500) < np.where(qualified, 0.7, 0.2)
        m = group_metrics(qualified, selected)
        tp, fp = (qualified & selected).sum(), (~qualified & selected).sum()
        assert (
            m["true positive rate"] == tp / qualified.sum()
            and m["false positive rate"] == fp / (~qualified).sum()
        )
        assert m["precision"] == tp / (tp + fp) and m["selection rate"] == selected.mean()
        p, ppv = m["base rate"], m["precision"]
        assert np.isclose(m["false positive rate"], p / (1 - p) * (1 - ppv) / ppv * m["true positive rate"])


def test_responsible_chapter_ece_equals_an_independent_computation() -> None:
    """Is chapter 12's ECE the bin-weighted gap between confidence and accuracy, written here apart with NumPy, and
    zero for a model whose confidence is its accuracy?"""
    import numpy as np
    import torch

    ece = responsible_chapter("reliability", "expected_calibration_error")["expected_calibration_error"]
    generator = torch.Generator().manual_seed(3)
    probs = torch.softmax(3 * torch.randn(1000, 10, generator=generator), dim=1)
    labels = torch.randint(0, 10, (1000,), generator=generator)
    confidence, correct = probs.max(1).values.numpy(), (probs.argmax(1) == labels).numpy()
    bins = np.clip(np.ceil(confidence * 10).astype(int) - 1, 0, 9)  # (lo, hi] bins of width 0.1
    expected = sum(
        (bins == b).mean() * abs(confidence[bins == b].mean() - correct[bins == b].mean())
        for b in range(10)
        if (bins == b).any()
    )
    assert abs(ece(probs, labels) - expected) < 1e-5
    # Confidence 0.6 everywhere, right on 60 of 100: calibrated.
    probs = torch.full((100, 10), 0.4 / 9)
    probs[:, 0] = 0.6
    labels = torch.tensor([0] * 60 + [1] * 40)
    assert ece(probs, labels) < 1e-6


def test_responsible_chapter_fitted_temperature_recovers_the_one_that_made_the_labels() -> None:
    """Labels drawn from softmax(z / 2): does fit_temperature find T close to 2 from the logits z and the labels?"""
    import torch

    fit_temperature = responsible_chapter("fit_temperature")["fit_temperature"]
    generator = torch.Generator().manual_seed(5)
    logits = 4 * torch.randn(20_000, 10, generator=generator)
    labels = torch.multinomial(torch.softmax(logits / 2, dim=1), 1, generator=generator)[:, 0]
    assert abs(fit_temperature(logits, labels) - 2) < 0.1


def test_responsible_chapter_explanations_and_fgsm_are_exact_on_a_linear_model() -> None:
    """On a linear model without bias, is gradient x input an exact split of the logit, and the gradient the weights;
    does FGSM stay in the epsilon-ball and [0, 1], and raise the loss more than any random sign pattern of its size?"""
    import torch

    ns = responsible_chapter("gradient_saliency", "gradient_times_input", "fgsm")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10, bias=False))
    x = torch.rand(16, 1, 8, 8) * 0.5 + 0.25  # away from 0 and 1, so that no clipping interferes
    target = torch.randint(0, 10, (16,))
    weights = model[1].weight.detach()[target].view(16, 1, 8, 8)
    assert torch.allclose(ns["gradient_saliency"](model, x, target), weights)
    logit = model(x).gather(1, target[:, None])[:, 0]
    assert torch.allclose(
        ns["gradient_times_input"](model, x, target).flatten(1).sum(1), logit.detach(), atol=1e-5
    )

    epsilon = 0.1
    attacked = ns["fgsm"](model, x, target, epsilon)
    assert (attacked - x).abs().max() <= epsilon + 1e-6 and 0 <= attacked.min() and attacked.max() <= 1
    loss = torch.nn.functional.cross_entropy
    with torch.no_grad():
        fgsm_loss = loss(model(attacked), target).item()
        for _ in range(50):
            signs = 2 * torch.randint(0, 2, x.shape) - 1
            assert loss(model(x + epsilon * signs), target).item() < fgsm_loss
    edge = ns["fgsm"](model, torch.zeros(4, 1, 8, 8), target[:4], 0.5)
    assert edge.min() >= 0 and edge.max() <= 0.5  # clipped into the valid range


@pytest.mark.slow
def test_responsible_page_shows_the_measured_rates_and_embeds_both_widgets_frames(site: Path) -> None:
    """Does chapter 12's page print the identity checked for both groups, the explanations' sanity check, the
    calibration under shift and FGSM against random signs; and carry the 9 threshold and 8 epsilon frames?"""
    text = page_text(site, RESPONSIBLE)
    for group in "AB":
        found = re.search(
            rf"group {group}: FPR ([\d.]+); from its base rate, precision and TPR: ([\d.]+)", text
        )
        assert found and found.group(1) == found.group(2)
    assert re.search(
        r"gradient x input: rank correlation of the trained and the random network's maps 0\.9", text
    )
    row = re.search(r"moved 1 pixel +([\d.]+) +([\d.]+) +([\d.]+)", text)
    assert row and float(row.group(2)) - float(row.group(1)) > 0.15  # more confident than right
    fgsm = re.search(r"epsilon 0\.100: accuracy ([\d.]+) under FGSM, ([\d.]+) under random signs", text)
    assert fgsm and float(fgsm.group(1)) + 0.3 < float(fgsm.group(2))

    models = widget_models(text)
    names = [model["model_name"] for model in models]
    assert names.count("SelectionSliderModel") == 2
    assert names.count("StackModel") == 2 and names.count("LinkModel") == 2
    sliders = [m["state"] for m in models if m["model_name"] == "SelectionSliderModel"]
    assert sorted(s["description"] for s in sliders) == ["epsilon", "group B's threshold"]
    alts = [
        match
        for model in models
        if model["model_name"] == "HTMLModel"
        for match in re.findall(r'alt="([^"]*)"', html.unescape(model["state"].get("value", "")))
    ]
    assert sum(alt.startswith("Group B's threshold ") for alt in alts) == 9
    assert sum(alt.startswith("FGSM with epsilon ") for alt in alts) == 8
    assert any(alt.startswith("FGSM with epsilon 0.0: eight test digits, 7 read as 7") for alt in alts)


@pytest.mark.slow
@pytest.mark.browser
def test_responsible_sliders_switch_the_threshold_and_attack_frames_in_browser(
    site: Path, tmp_path: Path
) -> None:
    """With no kernel, do chapter 12's threshold and epsilon sliders each change their shown frame?"""
    with browse(site, tmp_path) as (browser, base):
        browser.open(f"{base}/book/{RESPONSIBLE}.html")
        assert browser.wait_until(f"({SHOWN_FRAMES}).split(' | ').length == 2"), "the two widgets' frames"
        threshold, attack = browser.evaluate(SHOWN_FRAMES).split(" | ")
        assert threshold.startswith("Group B's threshold 0.10,") and attack.startswith(
            "FGSM with epsilon 0.0:"
        )
        browser.press_right(0, 8)  # group B's threshold 0.10 -> 0.50
        browser.press_right(1, 7)  # epsilon 0.0 -> 0.25
        threshold, attack = browser.evaluate(SHOWN_FRAMES).split(" | ")
        assert threshold.startswith("Group B's threshold 0.50,") and attack.startswith(
            "FGSM with epsilon 0.25:"
        )
