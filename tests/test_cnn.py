"""Does grading of the cnn assignment tell a correct hand-in from a wrong one, however it is written?

Each hand-in below is the source notebook with some answer cells replaced: an alternative correct
implementation written in another style (loops instead of sliding windows, another network) must
score full marks, and each typical mistake must lose exactly the parts that test what it breaks,
with feedback that names the problem. All hand-ins are graded in one batch, as a teacher would.
The last test checks that chapter 6 still asserts the facts it pins.
"""

import re

import nbformat
import pytest
from conftest import REPO
from hand_ins import Mistake, check_grading

SOURCE = REPO / "source_notebooks" / "cnn" / "cnn.ipynb"
CHAPTER = REPO / "book" / "06_cnn.ipynb"
NOTEBOOK = "cnn.ipynb"

LOOP_CONV2D = """
def conv2d(x, w, b=None, stride=1, padding=0):
    n, c, h, width = x.shape
    f, c_w, kh, kw = w.shape
    assert c == c_w, "channels differ"
    padded = np.zeros((n, c, h + 2 * padding, width + 2 * padding))
    padded[:, :, padding : padding + h, padding : padding + width] = x
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    out = np.zeros((n, f, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b.reshape(1, f, 1, 1)
    return out
"""

# An alternative correct solution: float arithmetic and the dilated kernel's gaps for the size, a loop
# over output positions for conv2d and max pooling, a network without batch normalisation but with a
# hidden dense layer, and the parameters counted per group.
ALTERNATIVE = {
    "conv_output_size": """
def conv_output_size(n, k, p=0, s=1, d=1):
    effective = k + (k - 1) * (d - 1)
    return int(math.floor((n + 2 * p - effective) / s)) + 1
""",
    "conv2d": LOOP_CONV2D,
    "maxpool2d": """
def maxpool2d(x, k, stride=None):
    s = stride or k
    n, c, h, w = x.shape
    out = np.empty((n, c, (h - k) // s + 1, (w - k) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3))
    return out
""",
    "digits_cnn": """
class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 3, padding=1)
        self.conv2 = nn.Conv2d(12, 24, 3, padding=1)
        self.hidden = nn.Linear(24 * 2 * 2, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.out(F.relu(self.hidden(x.flatten(1))))


def conv2d_parameters(c_in, c_out, k, groups=1, bias=True):
    taps = int(np.prod(np.broadcast_to(k, 2)))
    per_group = (c_in // groups) * (c_out // groups) * taps
    return groups * per_group + bias * c_out
""",
}

# Each mistake: the answer cell it edits, the code it starts from (None: the source's solution), the
# text it replaces (everywhere) and by what, the parts it must lose, and a phrase the feedback of
# each lost part must contain.
_EDITS = {
    # Convolution in the signal-processing sense: the kernel flipped in both directions.
    "flipped-kernel": (
        "conv2d",
        None,
        '"ncijuv,fcuv->nfij", windows, w)',
        '"ncijuv,fcuv->nfij", windows, w[:, :, ::-1, ::-1])',
        {
            part: "flip"
            for part in (
                "test_conv2d_example",
                "test_conv2d_channels",
                "test_conv2d_padding",
                "test_conv2d_stride",
                "test_conv2d_general",
            )
        },
    ),
    # The output size without its + 1: one window position short.
    "output-size-without-plus-one": (
        "conv_output_size",
        None,
        "// s + 1",
        "// s",
        {"test_conv_output_size": "at 2 x 2 positions"},
    ),
    # Padding counted on one side only in the output size: right for padding 0, one size short per P.
    "padding-counted-once": (
        "conv2d",
        LOOP_CONV2D,
        "+ 2 * padding - k",
        "+ padding - k",
        {"test_conv2d_padding": "2P", "test_conv2d_general": "2P"},
    ),
    # The window positions divided by the stride: right for stride 1, often one short for larger strides.
    "stride-positions-off-by-one": (
        "conv2d",
        LOOP_CONV2D,
        ") // stride + 1",
        " + 1) // stride",
        {"test_conv2d_stride": "every S-th", "test_conv2d_general": "// S + 1"},
    ),
    # No check that x and w agree on the channels: a wrong call fails deep inside with a ValueError.
    "channel-check-missing": (
        "conv2d",
        LOOP_CONV2D,
        'assert c == c_w, "channels differ"',
        "pass",
        {"test_conv2d_channels": "with an assert and a message"},
    ),
    # Pooling windows that overlap by default: stride=None taken as 1 instead of k.
    "pool-stride-default-1": (
        "maxpool2d",
        None,
        "stride = k if stride is None",
        "stride = 1 if stride is None",
        {"test_maxpool_default_stride": "stride=None means stride = k"},
    ),
    # The size rounded half to even instead of down: right for the visible cases, one too many for 255 / 2.
    "size-rounded-half-to-even": (
        "conv_output_size",
        None,
        "(n + 2 * p - span) // s + 1",
        "round((n + 2 * p - span) / s) + 1",
        {"test_conv_output_size": "rounded down"},
    ),
    # A dilated kernel taken to span d * k pixels: right without dilation, too few positions with it.
    "dilated-span-d-times-k": (
        "conv_output_size",
        None,
        "span = d * (k - 1) + 1",
        "span = d * k",
        {"test_conv_output_size": "d * (k - 1) + 1"},
    ),
    # Groups ignored: every output channel counted with all input channels, right for groups=1 only.
    "conv-parameters-ignore-groups": (
        "digits_cnn",
        None,
        "c_out * (c_in // groups) * kh * kw",
        "c_out * c_in * kh * kw",
        {"test_conv2d_parameters": "c_in / G input channels"},
    ),
    # A rectangular kernel taken as square: right for an int k, wrong for (kh, kw) = (5, 2).
    "conv-parameters-square-kernel": (
        "digits_cnn",
        None,
        "kh, kw = (k, k) if isinstance(k, int) else k",
        "kh = kw = k if isinstance(k, int) else k[0]",
        {"test_conv2d_parameters": "rectangular kernel"},
    ),
    # A network over the parameter limit: a spare dense layer that forward never uses still counts.
    "over-the-parameter-limit": (
        "digits_cnn",
        None,
        "nn.Linear(32 * 2 * 2, 10))\n",
        "nn.Linear(32 * 2 * 2, 10))\n        self.extra = nn.Linear(64, 64)\n",
        {"test_digits_cnn": "the limit is 8,000"},
    ),
    # The scores squeezed: (N, 10) for every batch but one of a single image, which comes out as (10,).
    "squeeze-drops-batch-of-one": (
        "digits_cnn",
        None,
        "return self.classifier(self.features(x))",
        "return self.classifier(self.features(x)).squeeze()",
        {"test_digits_cnn": "for any batch size"},
    ),
    # The first convolution frozen: the network still trains well enough, but not all of it learns.
    "frozen-first-convolution": (
        "digits_cnn",
        None,
        "nn.Linear(32 * 2 * 2, 10))\n",
        "nn.Linear(32 * 2 * 2, 10))\n        self.features[0].requires_grad_(False)\n",
        {"test_digits_cnn": "requires_grad"},
    ),
    # Probabilities instead of logits: it trains, but the loss applies softmax a second time.
    "softmax-output": (
        "digits_cnn",
        None,
        "return self.classifier(self.features(x))",
        "return self.classifier(self.features(x)).softmax(dim=1)",
        {"test_digits_cnn": "without softmax"},
    ),
    # A forward that never looks at its input: every shape is right, the scores are those of a blank image.
    "forward-ignores-input": (
        "digits_cnn",
        None,
        "return self.classifier(self.features(x))",
        "return self.classifier(self.features(torch.zeros_like(x)))",
        {"test_digits_cnn": "does forward use x", "test_training": "at least 95 %"},
    ),
}

MISTAKES = {
    name: Mistake(answer, old, new, lost, start) for name, (answer, start, old, new, lost) in _EDITS.items()
}


def test_chapter_asserts_its_pinned_facts():
    """Does chapter 6 still assert the AAU slides' worked example and their networks' parameter counts?"""
    code = "\n".join(c.source for c in nbformat.read(CHAPTER, as_version=4).cells if c.cell_type == "code")
    assert re.search(r"assert .*\[\[19, 25\], \[37, 43\]\]", code)
    assert re.search(r"assert count_parameters\(mnist_cnn\) == 34826", code)
    assert re.search(r"assert count_parameters\(mnist_fc\) == 242762", code)
    assert re.search(r"REPORTED_MNIST = \{.*97\.87.*98\.82", code, re.DOTALL)


@pytest.mark.slow
def test_grading_rewards_any_correct_style_and_names_each_mistake(course, make_class, tmp_path):
    check_grading(course, make_class, tmp_path / "out", "cnn", ALTERNATIVE, MISTAKES)
