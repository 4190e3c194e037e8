"""RetinaFace with a MobileNet-0.25 backbone, as a plain PyTorch module.

Written for FaceMirror from the published description of the network (Pytorch_Retinaface,
MIT): MobileNetV1 at width 0.25 gives three feature maps (strides 8, 16, 32; 64, 128 and 256
channels), a small feature pyramid brings them to 64 channels, an SSH context module refines
each level, and three 1x1 convolution heads per level predict, for 2 anchors per cell, the face
score (2 classes), the box regression (4 values) and 5 facial points (10 values).

The attribute names are chosen so that `state_dict()` has exactly the keys of
`mobilenet0.25_Final.pth` after its "module." prefix is removed (`body.stage1.0.0.weight`,
`fpn.merge1.1.running_var`, `ssh3.conv7x7_3.0.weight`, `LandmarkHead.2.conv1x1.bias`, ...),
so the published weights load with strict key and shape matching.

Only the converters import this module (torch is an optional extra).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

# Feature-map strides of the three levels and the anchor sizes (pixels at the network input)
# each level predicts. The detector (app.engine.faces) keeps its own copy: it must not import torch.
STEPS = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)
MEAN_BGR = (104.0, 117.0, 123.0)
ANCHORS_PER_CELL = 2
PYRAMID_CHANNELS = 64


def _conv_bn_act(cin: int, cout: int, kernel: int, stride: int, slope: float | None,
                 groups: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm (+ LeakyReLU when slope is not None); keys .0 conv, .1 bn."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if slope is not None:
        layers.append(nn.LeakyReLU(negative_slope=slope, inplace=True))
    return nn.Sequential(*layers)


def _depthwise_separable(cin: int, cout: int, stride: int, slope: float = 0.1) -> nn.Sequential:
    """3x3 depthwise conv + BN + act, then 1x1 pointwise conv + BN + act (keys .0/.1 and .3/.4)."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.LeakyReLU(negative_slope=slope, inplace=True),
        nn.Conv2d(cin, cout, 1, 1, 0, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(negative_slope=slope, inplace=True),
    )


class MobileNetV1x025(nn.Module):
    """The backbone: returns the outputs of its three stages (strides 8, 16 and 32)."""

    def __init__(self) -> None:
        super().__init__()
        # (in, out, stride) of the depthwise-separable blocks, per stage.
        stage1 = [(8, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1)]
        stage2 = [(64, 128, 2)] + [(128, 128, 1)] * 5
        stage3 = [(128, 256, 2), (256, 256, 1)]
        self.stage1 = nn.Sequential(_conv_bn_act(3, 8, 3, 2, 0.1),
                                    *[_depthwise_separable(*b) for b in stage1])
        self.stage2 = nn.Sequential(*[_depthwise_separable(*b) for b in stage2])
        self.stage3 = nn.Sequential(*[_depthwise_separable(*b) for b in stage3])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        c3 = self.stage3(c2)
        return c1, c2, c3


class FeaturePyramid(nn.Module):
    """Top-down pyramid: 1x1 lateral convs, nearest upsampling, 3x3 merge convs."""

    def __init__(self, in_channels: tuple[int, int, int], channels: int) -> None:
        super().__init__()
        slope = 0.1 if channels <= 64 else 0.0
        self.output1 = _conv_bn_act(in_channels[0], channels, 1, 1, slope)
        self.output2 = _conv_bn_act(in_channels[1], channels, 1, 1, slope)
        self.output3 = _conv_bn_act(in_channels[2], channels, 1, 1, slope)
        self.merge1 = _conv_bn_act(channels, channels, 3, 1, slope)
        self.merge2 = _conv_bn_act(channels, channels, 3, 1, slope)

    def forward(self, feats):
        f1, f2, f3 = feats
        p3 = self.output3(f3)
        p2 = self.output2(f2)
        p2 = self.merge2(p2 + F.interpolate(p3, size=p2.shape[-2:], mode="nearest"))
        p1 = self.output1(f1)
        p1 = self.merge1(p1 + F.interpolate(p2, size=p1.shape[-2:], mode="nearest"))
        return p1, p2, p3


class ContextModule(nn.Module):
    """SSH context module: parallel 3x3, 5x5 (two 3x3) and 7x7 (three 3x3) branches, concatenated
    to `channels` (1/2 + 1/4 + 1/4) and passed through ReLU. The 5x5 and 7x7 branches share
    their first conv."""

    def __init__(self, cin: int, channels: int) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError("SSH channels must be divisible by 4")
        slope = 0.1 if channels <= 64 else 0.0
        half, quarter = channels // 2, channels // 4
        self.conv3X3 = _conv_bn_act(cin, half, 3, 1, None)
        self.conv5X5_1 = _conv_bn_act(cin, quarter, 3, 1, slope)
        self.conv5X5_2 = _conv_bn_act(quarter, quarter, 3, 1, None)
        self.conv7X7_2 = _conv_bn_act(quarter, quarter, 3, 1, slope)
        self.conv7x7_3 = _conv_bn_act(quarter, quarter, 3, 1, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shared = self.conv5X5_1(x)
        b3 = self.conv3X3(x)
        b5 = self.conv5X5_2(shared)
        b7 = self.conv7x7_3(self.conv7X7_2(shared))
        return F.relu(torch.cat([b3, b5, b7], dim=1))


class _Head(nn.Module):
    """1x1 conv predicting `values` numbers per anchor; output [N, H*W*anchors, values] in the
    order (row, column, anchor), the order the priors are generated in."""

    def __init__(self, cin: int, values: int, anchors: int = ANCHORS_PER_CELL) -> None:
        super().__init__()
        self.values = values
        self.conv1x1 = nn.Conv2d(cin, anchors * values, kernel_size=1, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1x1(x).permute(0, 2, 3, 1)
        return y.reshape(y.shape[0], -1, self.values)


class RetinaFaceMNet(nn.Module):
    """RetinaFace MobileNet-0.25.

    Input: float32 [N, 3, H, W], BGR pixels minus MEAN_BGR (no scaling).
    Output (tuple): boxes [N, P, 4] raw box regressions (dx, dy, dw, dh in prior units),
    scores [N, P] face probability (softmax over background/face), landmarks [N, P, 10] raw
    point regressions (x0, y0, ..., x4, y4 in prior units). P = sum over the three levels of
    ceil(H/s) * ceil(W/s) * 2. Decoding needs the priors (see app.engine.faces).
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = MobileNetV1x025()
        self.fpn = FeaturePyramid((64, 128, 256), PYRAMID_CHANNELS)
        self.ssh1 = ContextModule(PYRAMID_CHANNELS, PYRAMID_CHANNELS)
        self.ssh2 = ContextModule(PYRAMID_CHANNELS, PYRAMID_CHANNELS)
        self.ssh3 = ContextModule(PYRAMID_CHANNELS, PYRAMID_CHANNELS)
        self.ClassHead = nn.ModuleList([_Head(PYRAMID_CHANNELS, 2) for _ in STEPS])
        self.BboxHead = nn.ModuleList([_Head(PYRAMID_CHANNELS, 4) for _ in STEPS])
        self.LandmarkHead = nn.ModuleList([_Head(PYRAMID_CHANNELS, 10) for _ in STEPS])

    def forward(self, x: torch.Tensor):
        p1, p2, p3 = self.fpn(self.body(x))
        feats = (self.ssh1(p1), self.ssh2(p2), self.ssh3(p3))
        boxes = torch.cat([h(f) for h, f in zip(self.BboxHead, feats)], dim=1)
        logits = torch.cat([h(f) for h, f in zip(self.ClassHead, feats)], dim=1)
        points = torch.cat([h(f) for h, f in zip(self.LandmarkHead, feats)], dim=1)
        # Face probability = softmax column 1, taken with a slice and a reshape (a Slice node;
        # an integer index would export as Gather, which CoreML's MLProgram EP does not take).
        probs = F.softmax(logits, dim=-1)
        scores = probs[..., 1:2].reshape(probs.shape[0], -1)
        return boxes, scores, points


def clean_state_dict(raw: Mapping) -> "OrderedDict[str, torch.Tensor]":
    """Accept a state_dict (or a dict holding one under 'state_dict'/'model'/'net') and strip
    the 'module.' prefix DataParallel adds to every key."""
    if not isinstance(raw, Mapping):
        raise TypeError(f"expected a state_dict, got {type(raw).__name__}")
    for key in ("state_dict", "model", "net"):
        if key in raw and isinstance(raw[key], Mapping):
            raw = raw[key]
            break
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict((k.removeprefix("module."), v) for k, v in raw.items())
    return out


def check_state_dict(model: nn.Module, state: Mapping) -> list[str]:
    """Differences between a checkpoint and the network: missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    def shape(v) -> tuple:
        return tuple(getattr(v, "shape", ()))

    shapes = [f"{k}: checkpoint {shape(state[k])} vs network {shape(own[k])}"
              for k in own if k in state and shape(state[k]) != shape(own[k])]
    kinds = (("missing key(s)", missing, ", "), ("unexpected key(s)", list(map(str, unexpected)), ", "),
             ("shape mismatch(es)", shapes, "; "))
    return [f"{len(found)} {what}, first: {sep.join(found[:5])}" for what, found, sep in kinds if found]


def randomize_(model: nn.Module, seed: int) -> nn.Module:
    """Deterministic random weights for development exports (conv init plus non-trivial BN
    statistics, so that the BN folding is exercised)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.01)
            elif isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                if m.weight is not None and m.bias is not None:     # None only for a non-affine BN
                    m.weight.copy_(1.0 + 0.1 * torch.randn(n, generator=gen))
                    m.bias.copy_(0.1 * torch.randn(n, generator=gen))
                if m.running_mean is not None and m.running_var is not None:  # None without running statistics
                    m.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                    m.running_var.copy_(1.0 + 0.1 * torch.rand(n, generator=gen))
    return model


def build(state: Mapping | None = None, *, seed: int = 0) -> RetinaFaceMNet:
    """The network in eval mode, with `state` loaded strictly, or seeded random weights."""
    model = RetinaFaceMNet()
    if state is None:
        randomize_(model, seed)
    else:
        model.load_state_dict(state, strict=True)
    return model.eval()
