"""MldrNet: Learning Multi-level Deep Representations for Image Emotion Classification.

The paper (section III-C, III-D) describes a main path of convolution levels with kernels 11x11, 5x5,
5x5, 5x5, each followed by ReLU and max-pooling; after each level's pooling a side branch (a 1x1
convolution with 128 filters + ReLU, then two fully connected layers); a fusion layer combines the
branches into the 8 emotion scores. Everything the paper leaves open is a field of `MldrNetConfig`, with
the choice and its reason written beside it:

- ``levels`` (2..6, default 4, Table I). Levels 5 and 6 repeat the 5x5 convolution.
- ``fusion``: mean (default, the paper's best), max, min, concat (Table II), or bigru: the per-level
  representations as a sequence, shallow to deep, through a bidirectional GRU (the MldrNet+Bi-GRU row of
  Table III).
- ``fuse_on``: equations 3-4 read literally apply the fusion function to per-branch outputs and feed the
  result straight to the softmax, so by default each branch's second FC layer emits 8 class scores and
  mean/max/min act on those scores ("logits"). ``features`` instead fuses the branches' hidden vectors
  and puts one shared classifier after the fusion. concat always ends in a linear layer (a concatenation
  of scores is 8*L wide); bigru always reads the hidden features (a GRU over 8-d scores has little to say).
- widths and strides: conv1 is AlexNet's 11x11 stride 4 (96 filters), the 5x5 levels are 192, 256, 256
  filters at stride 1, pooling 3x3 stride 2 (padding 1, so a map never shrinks below 1x1 and any input
  from 64 px works). The paper's point is a shallow, cheap network: this costs ~4.6 GFLOPs per 375x375
  image at 4 levels (``bench models`` measures it), AlexNet-like rather than VGG-like.
- ``branch_grid``: how a branch turns its map into a fixed-size FC input. Global pooling would throw away
  where things are, which the paper ties to mid-level aesthetics (composition, balance); a 3x3 adaptive
  average pool keeps a coarse layout (a 3x3 grid) at 128*9 = 1152 inputs per branch. (The synthetic data's
  composition cue is deliberately not placed on this grid: mldrnet.data.synth.draw.place.)
  `GridPool` runs it: PyTorch's adaptive average pooling in eager mode, and, while the model is exported, the
  same bins as fixed pooling ops for the size being exported (`grid_pool_fixed`), so that the ONNX file holds
  only Slice / AveragePool / Concat for it, never the Gather / GatherND / Where with BOOL constants the exporter
  makes of adaptive pooling over maps that do not divide by the grid (8/4/2/1 wide at 64 px, 47 at 375 px).
- ``batch_norm`` after each convolution (default on): MldrNet is trained from scratch (there are no
  ImageNet weights for it), and plain SGD at the paper's lr 0.001 trains an un-normalised 4-level net
  slowly; batch norm folds into the convolution at export, so inference cost is unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from mldrnet.errors import BenchError
from mldrnet.models.registry import register

FUSIONS = ("mean", "max", "min", "concat", "bigru")
FUSE_ON = ("logits", "features")
MIN_LEVELS, MAX_LEVELS = 2, 6

# One row per possible level: (kernel, out_channels, stride, padding). Levels beyond 4 repeat the 5x5 conv.
LEVEL_SPECS: tuple[tuple[int, int, int, int], ...] = (
    (11, 96, 4, 2),
    (5, 192, 1, 2),
    (5, 256, 1, 2),
    (5, 256, 1, 2),
    (5, 256, 1, 2),
    (5, 256, 1, 2),
)


@dataclass(frozen=True)
class MldrNetConfig:
    levels: int = 4
    fusion: str = "mean"
    fuse_on: str = "logits"
    branch_channels: int = 128  # the paper's 1x1 convolution width
    branch_grid: int = 3
    hidden: int = 512  # first FC layer of each branch
    dropout: float = 0.5
    batch_norm: bool = True
    gru_hidden: int = 256
    num_classes: int = 8
    level_specs: tuple[tuple[int, int, int, int], ...] = field(default=LEVEL_SPECS)

    def __post_init__(self) -> None:
        if not MIN_LEVELS <= self.levels <= min(MAX_LEVELS, len(self.level_specs)):
            raise ValueError(f"levels must be in {MIN_LEVELS}..{MAX_LEVELS}, got {self.levels}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.fuse_on not in FUSE_ON:
            raise ValueError(f"fuse_on must be one of {', '.join(FUSE_ON)}, got {self.fuse_on!r}")


def conv_level(in_ch: int, kernel: int, out_ch: int, stride: int, padding: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers += [nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    return nn.Sequential(*layers)


def grid_bins(n: int, out: int) -> list[tuple[int, int]]:
    """[start, end) of each of the `out` adaptive-pooling bins over `n` positions (PyTorch's rule:
    start = floor(i n / out), end = ceil((i + 1) n / out)); bins overlap where `out` does not divide `n`."""
    return [((i * n) // out, -((-(i + 1) * n) // out)) for i in range(out)]


def grid_runs(n: int, out: int) -> list[tuple[int, int, int, int]]:
    """The bins over one axis as runs of (start, kernel, stride, count) that one pooling op covers: a single run
    where the bins are evenly spaced windows of one size (n = 24 -> 3: kernel 8, stride 8), one run per bin
    otherwise (n = 8 -> 3: [0, 3), [2, 6), [5, 8)); bins that are all one window (n = 1) are one run of count 1,
    repeated by the caller."""
    bins = grid_bins(n, out)
    sizes = {end - start for start, end in bins}
    starts = [start for start, _ in bins]
    if len(sizes) == 1 and out > 1:
        step = starts[1] - starts[0]
        if step > 0 and all(b - a == step for a, b in zip(starts, starts[1:])):
            return [(starts[0], sizes.pop(), step, out)]
    if len(set(bins)) == 1:
        return [(starts[0], bins[0][1] - starts[0], 1, 1)]
    return [(start, end - start, 1, 1) for start, end in bins]


def gru_last_states(gru: nn.GRU, steps: list[torch.Tensor]) -> torch.Tensor:
    """(B, 2*H): the last hidden state of each direction of a one-layer bidirectional GRU over `steps` (B, I) each,
    computed from its weights with PyTorch's gate equations, starting from zero. The same numbers as `gru` (to
    float rounding), for export: ONNX's GRU op takes its initial state as an input shaped by the batch, which the
    exporter builds at run time and OpenCV's importer refuses; this is Gemm, Slice, Add, Sigmoid, Tanh and Mul.
    (A non-finite input makes the zero start NaN: the model's outputs would be NaN anyway.)"""
    size, last = gru.hidden_size, []
    r_, z_, n_ = slice(0, size), slice(size, 2 * size), slice(2 * size, 3 * size)  # the gates' columns
    for suffix, order in (("", steps), ("_reverse", steps[::-1])):
        w_ih, w_hh = getattr(gru, f"weight_ih_l0{suffix}"), getattr(gru, f"weight_hh_l0{suffix}")
        b_ih, b_hh = getattr(gru, f"bias_ih_l0{suffix}"), getattr(gru, f"bias_hh_l0{suffix}")
        # zero, made from the data: no zeros of the run-time batch size to build in the graph
        h = F.linear(order[0], w_ih[r_], b_ih[r_]) * 0
        for x in order:
            gi = F.linear(x, w_ih, b_ih)  # (B, 3H); sliced below rather than split (OpenCV misreads that Split)
            gh = F.linear(h, w_hh, b_hh)
            r, z = torch.sigmoid(gi[:, r_] + gh[:, r_]), torch.sigmoid(gi[:, z_] + gh[:, z_])
            n = torch.tanh(gi[:, n_] + r * gh[:, n_])
            h = (1 - z) * n + z * h
        last.append(h)
    return torch.cat(last, dim=1)


def grid_pool_fixed(x: torch.Tensor, out: int) -> torch.Tensor:
    """`F.adaptive_avg_pool2d(x, out)` as fixed ops for x's (static) height and width: for each pair of runs
    (`grid_runs`) a slice and an average pooling with that kernel and stride, concatenated back into the
    (B, C, out, out) grid. The same bins and the same means as adaptive pooling (only the order of the additions
    differs: within 1e-7 of it); every op is one that ONNX Runtime, OpenVINO, TensorRT and OpenCV's DNN read."""
    height, width = int(x.shape[-2]), int(x.shape[-1])

    def tile(t: torch.Tensor, dim: int, count: int) -> torch.Tensor:
        return t if t.shape[dim] == count else torch.cat([t] * (count // t.shape[dim]), dim=dim)

    rows = []
    for h0, kh, sh, nh in grid_runs(height, out):
        cols = []
        for w0, kw, sw, nw in grid_runs(width, out):
            h1, w1 = h0 + kh + sh * (nh - 1), w0 + kw + sw * (nw - 1)
            part = x if (h0, h1, w0, w1) == (0, height, 0, width) else x[:, :, h0:h1, w0:w1]
            if (kh, kw) != (1, 1):
                part = F.avg_pool2d(part, (kh, kw), (sh, sw))
            cols.append(part)
        row = torch.cat(cols, dim=3) if len(cols) > 1 else cols[0]
        rows.append(tile(row, 3, out))
    return tile(torch.cat(rows, dim=2) if len(rows) > 1 else rows[0], 2, out)


class GridPool(nn.Module):
    """Adaptive average pooling to an (out x out) grid; exported as fixed pooling ops (`grid_pool_fixed`). No
    parameters: checkpoints are the same as with nn.AdaptiveAvgPool2d."""

    def __init__(self, out: int):
        super().__init__()
        self.out = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_exporting():
            return grid_pool_fixed(x, self.out)
        return F.adaptive_avg_pool2d(x, self.out)

    def extra_repr(self) -> str:
        return f"output_size={self.out}"


class SideBranch(nn.Module):
    """1x1 conv (128) + ReLU, a fixed spatial grid, then FC -> hidden (and FC -> classes if it emits scores)."""

    def __init__(self, in_ch: int, cfg: MldrNetConfig, emits_scores: bool):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(in_ch, cfg.branch_channels, 1), nn.ReLU(inplace=True))
        self.grid = GridPool(cfg.branch_grid)
        self.fc1 = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cfg.branch_channels * cfg.branch_grid**2, cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
        )
        self.fc2 = nn.Linear(cfg.hidden, cfg.num_classes) if emits_scores else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(self.grid(self.reduce(x)))  # (B, hidden)
        return self.fc2(h) if self.fc2 is not None else h


class MldrNet(nn.Module):
    def __init__(self, cfg: MldrNetConfig = MldrNetConfig()):
        super().__init__()
        self.cfg = cfg
        # Branches emit class scores only when the fusion acts on them (equations 3-4 read literally).
        self.fuse_scores = cfg.fusion in ("mean", "max", "min", "concat") and cfg.fuse_on == "logits"
        levels, branches, in_ch = [], [], 3
        for kernel, out_ch, stride, padding in cfg.level_specs[: cfg.levels]:
            levels.append(conv_level(in_ch, kernel, out_ch, stride, padding, cfg.batch_norm))
            branches.append(SideBranch(out_ch, cfg, emits_scores=self.fuse_scores))
            in_ch = out_ch
        self.levels = nn.ModuleList(levels)
        self.branches = nn.ModuleList(branches)

        width = cfg.num_classes if self.fuse_scores else cfg.hidden
        self.head: nn.Module
        if cfg.fusion == "concat":
            self.head = nn.Linear(width * cfg.levels, cfg.num_classes)
        elif cfg.fusion == "bigru":
            self.gru = nn.GRU(cfg.hidden, cfg.gru_hidden, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * cfg.gru_hidden, cfg.num_classes)
        elif not self.fuse_scores:
            self.head = nn.Linear(cfg.hidden, cfg.num_classes)
        else:
            self.head = nn.Identity()  # mean/max/min of class scores go straight to the softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reps = []  # one (B, width) representation per level, shallow to deep
        for level, branch in zip(self.levels, self.branches):
            x = level(x)  # (B, C_i, H_i, W_i)
            reps.append(branch(x))
        return self.head(self.fuse(reps))  # (B, num_classes)

    def fuse(self, reps: list[torch.Tensor]) -> torch.Tensor:
        fusion = self.cfg.fusion
        if fusion == "concat":
            return torch.cat(reps, dim=1)  # (B, L*width)
        if fusion == "bigru":
            if torch.compiler.is_exporting():  # elementary ops every runtime reads (OpenCV refuses ONNX's GRU here)
                return gru_last_states(self.gru, reps)
            seq = torch.stack(reps, dim=1)  # (B, L, hidden)
            _, h_n = self.gru(seq)  # (2, B, gru_hidden): last state of each direction
            return torch.cat([h_n[0], h_n[1]], dim=1)  # (B, 2*gru_hidden)
        if torch.compiler.is_exporting():
            return self._fuse_elementwise(reps)
        stacked = torch.stack(reps, dim=0)  # (L, B, width)
        if fusion == "mean":
            return stacked.mean(dim=0)
        if fusion == "max":
            return stacked.amax(dim=0)
        return stacked.amin(dim=0)

    def _fuse_elementwise(self, reps: list[torch.Tensor]) -> torch.Tensor:
        """mean / max / min of the levels as a chain of elementwise Add (then Div), Max or Min, as the model is
        exported: a stack along a new axis with a reduction over it is read wrongly by OpenCV's DNN module (axis 0
        is reduced with the batch, and the reduced axis is kept)."""
        ops: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
            "mean": torch.add,
            "max": torch.maximum,
            "min": torch.minimum,
        }
        fused = functools.reduce(ops[self.cfg.fusion], reps)
        return fused / len(reps) if self.cfg.fusion == "mean" else fused


# --- the paper's variants, registered -------------------------------------------------------------------


def _mldrnet(num_classes: int, defaults: MldrNetConfig, **cfg) -> MldrNet:
    try:
        return MldrNet(replace(defaults, num_classes=num_classes, **cfg))
    except (ValueError, TypeError) as e:
        raise BenchError(f"bad MldrNet option: {e}") from e


def _register_mldrnet(name: str, acc: float | None, description: str, **defaults) -> None:
    base = MldrNetConfig(**defaults)
    register(name, "mldrnet", acc, description)(lambda num_classes=8, **cfg: _mldrnet(num_classes, base, **cfg))


_register_mldrnet("mldrnet", 67.24, "MldrNet, 4 levels, mean fusion (the paper's model)")
_register_mldrnet("mldrnet-concat", 66.92, "MldrNet, concatenation fusion (Table II)", fusion="concat")
_register_mldrnet("mldrnet-max", 64.79, "MldrNet, max fusion (Table II)", fusion="max")
_register_mldrnet("mldrnet-min", 62.44, "MldrNet, min fusion (Table II)", fusion="min")
_register_mldrnet("mldrnet-bigru", 73.03, "MldrNet + Bi-GRU over the level sequence (Table III)", fusion="bigru")
for _levels, _acc in {2: 52.12, 3: 58.34, 5: 67.55, 6: 67.68}.items():
    _register_mldrnet(f"mldrnet-l{_levels}", _acc, f"MldrNet, {_levels} levels, mean fusion (Table I)", levels=_levels)
