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
  average pool keeps a coarse layout (the rule-of-thirds grid) at 128*9 = 1152 inputs per branch.
- ``batch_norm`` after each convolution (default on): MldrNet is trained from scratch (there are no
  ImageNet weights for it), and plain SGD at the paper's lr 0.001 trains an un-normalised 4-level net
  slowly; batch norm folds into the convolution at export, so inference cost is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
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


class SideBranch(nn.Module):
    """1x1 conv (128) + ReLU, a fixed spatial grid, then FC -> hidden (and FC -> classes if it emits scores)."""

    def __init__(self, in_ch: int, cfg: MldrNetConfig, emits_scores: bool):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(in_ch, cfg.branch_channels, 1), nn.ReLU(inplace=True))
        self.grid = nn.AdaptiveAvgPool2d(cfg.branch_grid)
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
            seq = torch.stack(reps, dim=1)  # (B, L, hidden)
            _, h_n = self.gru(seq)  # (2, B, gru_hidden): last state of each direction
            return torch.cat([h_n[0], h_n[1]], dim=1)  # (B, 2*gru_hidden)
        stacked = torch.stack(reps, dim=0)  # (L, B, width)
        if fusion == "mean":
            return stacked.mean(dim=0)
        if fusion == "max":
            return stacked.amax(dim=0)
        return stacked.amin(dim=0)


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
