"""The two shallow CNNs of the paper's Fig. 4 (section III-B), the structures MldrNet unifies: A-CNN and T-CNN.

Rao, Xu, Xu, "Learning Multi-level Deep Representations for Image Emotion Classification" (MldrNet), III-B:

- A-CNN (aesthetics, [42] = Lu et al. 2014, RAPID): "four convolutional layers and three fully-connected layers,
  which contains 1,000, 256 and 8 neurons, respectively. The first and second convolutional layers are followed
  by max-pooling layers." The paper gives no widths; they are RAPID's (conv1 11x11 stride 2, 64 filters; conv2
  5x5, 64; conv3 and conv4 3x3, 64), with max-pooling 3x3 stride 2 as in AlexNet.
- T-CNN (texture, [43] = Andrearczyk & Whelan 2016): "removes the last three convolutional layers of AlexNet, and
  adds an energy layer (average-pooling layer with the kernel size as 27) behind the second convolutional
  layers", then fully-connected layers of 4,096, 4,096 and 8 neurons. conv1 and conv2 are torchvision's AlexNet
  (11x11 stride 4, 64 filters; pool; 5x5, 192 filters), the same widths as the `alexnet` baseline.

Departures, each so that any input from 64 px works and both train with the loop every zoo model uses:

- T-CNN's energy layer is an adaptive average pool to 1x1 (`AdaptiveAvgPool2d(1)`), not a fixed 27x27 kernel:
  at AlexNet's 227 px input conv2's map is 27x27, where the two are the same average; at 375 px the map is 45x45
  and a fixed 27 kernel would leave a 1..19-wide map whose FC input depends on the image size.
- A-CNN's FC input is a 6x6 adaptive average pool of conv4's map (64*36 = 2304 inputs), as torchvision's AlexNet
  does before its classifier; RAPID's fixed 224 px patches gave a 20x20 map instead. Convolutions are padded
  (k // 2) so that a 64 px image still leaves a 7x7 map.
- `batch_norm` after each convolution (default on), for the reason MldrNet has it (mldrnet.models.mldrnet): these nets
  are trained from scratch, there are no ImageNet weights for them, and plain SGD at the paper's lr is slow on an
  un-normalised net; it folds into the convolution at export. No local response normalisation (torchvision's
  AlexNet has none either). Dropout 0.5 before each hidden FC layer, as in AlexNet.
"""

from __future__ import annotations

import torch
from torch import nn

from mldrnet.models.registry import register

# (kernel, out_channels, stride, padding, max-pool after): the convolutional part, one row per layer
A_CNN_CONVS: tuple[tuple[int, int, int, int, bool], ...] = (
    (11, 64, 2, 5, True),
    (5, 64, 1, 2, True),
    (3, 64, 1, 1, False),
    (3, 64, 1, 1, False),
)
A_CNN_FC = (1000, 256)  # hidden FC widths; the last layer has num_classes (8) neurons
A_CNN_GRID = 6

T_CNN_CONVS: tuple[tuple[int, int, int, int, bool], ...] = (
    (11, 64, 4, 2, True),  # AlexNet conv1 + pool1
    (5, 192, 1, 2, False),  # AlexNet conv2; the energy layer replaces pool2 and everything after
)
T_CNN_FC = (4096, 4096)


def conv_stack(specs, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for kernel, out_ch, stride, padding, pool in specs:
        layers.append(nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_ch))
        layers.append(nn.ReLU(inplace=True))
        if pool:
            layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
        in_ch = out_ch
    return nn.Sequential(*layers)


def fc_stack(in_features: int, hidden: tuple[int, ...], num_classes: int, dropout: float) -> nn.Sequential:
    """Dropout + FC + ReLU per hidden layer, then the num_classes-way FC (the last layer is `classifier[-1]`)."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Dropout(dropout), nn.Linear(in_features, width), nn.ReLU(inplace=True)]
        in_features = width
    layers.append(nn.Linear(in_features, num_classes))
    return nn.Sequential(*layers)


class ACNN(nn.Module):
    """Fig. 4(b): four convolutions (max-pooling after the first two), FC 1000 -> 256 -> num_classes."""

    def __init__(self, num_classes: int = 8, batch_norm: bool = True, dropout: float = 0.5):
        super().__init__()
        self.features = conv_stack(A_CNN_CONVS, batch_norm)
        self.pool = nn.AdaptiveAvgPool2d(A_CNN_GRID)
        self.classifier = fc_stack(A_CNN_CONVS[-1][1] * A_CNN_GRID**2, A_CNN_FC, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))  # (B, 64, 6, 6)
        return self.classifier(torch.flatten(x, 1))  # (B, num_classes)


class TCNN(nn.Module):
    """Fig. 4(c): AlexNet's conv1-conv2, the energy layer (mean of each conv2 map), FC 4096 -> 4096 -> classes."""

    def __init__(self, num_classes: int = 8, batch_norm: bool = True, dropout: float = 0.5):
        super().__init__()
        self.features = conv_stack(T_CNN_CONVS, batch_norm)
        self.energy = nn.AdaptiveAvgPool2d(1)  # = the paper's 27x27 average pool at 227 px (conv2 map 27x27)
        self.classifier = fc_stack(T_CNN_CONVS[-1][1], T_CNN_FC, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.energy(self.features(x))  # (B, 192, 1, 1): one energy per texture filter
        return self.classifier(torch.flatten(x, 1))  # (B, num_classes)


# The shallow CNNs of the paper's Fig. 4 (section III-B), trained from scratch; no FI accuracy in the paper
register("a-cnn", "baseline", None, "A-CNN (Fig. 4b, Lu et al. RAPID): 4 convs, FC 1000-256-8, from scratch")(ACNN)
register("t-cnn", "baseline", None, "T-CNN (Fig. 4c): AlexNet conv1-2 + energy (mean) layer, FC 4096-4096-8")(TCNN)
