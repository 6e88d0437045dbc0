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
