"""STAR (WFLW, 98 points): our own PyTorch definition of the stacked-hourglass landmark network.

The network follows ZhenglinZhou/STAR (lib/backbone/stackedHGNetV1.py, core/coord_conv.py,
decoder_default.py) with the WFLW configuration of conf/alignment.py, so that the official
checkpoint (`torch.load(path)["net"]`, shipped by OpenFace 3.0 as Landmark_98.pkl) loads with
strict key and shape matching. Module and attribute names below are therefore fixed by the
checkpoint's state_dict layout:

    pre.0                  CoordConv 3(+3 coord channels) -> 64, 7x7 stride 2, BN, ReLU
    pre.1 / pre.3 / pre.4  residual blocks 64->128, 128->128, 128->256 (pre.2 is a max pool)
    hgs.{s}                hourglass of depth 4 per stack; hgs.{s}.coordconv is a 1x1 CoordConv
                           256(+3, +2 boundary channels from stack 1 on) -> 256
    features.{s}           residual block + 1x1 conv/BN/ReLU
    out_heatmaps / out_edgemaps / out_pointmaps.{s}          1x1 heads (98 / 9 / 98)
    merge_features / merge_heatmaps / merge_edgemaps / merge_pointmaps.{s<3}  1x1 back to 256
    e2h_transform.weight / .bias                              fixed edge->point buffers

Every residual block carries a `skip_layer` conv even when input and output widths agree (the
reference builds it unconditionally, so the checkpoint has those keys; it is not applied then).

Early exit: STAR trains every stack with its own landmark loss, so `forward_all(x)[k - 1]` (and
`export_module(stacks=k)`) is a trained landmark estimate after k of the 4 stacks, at about k/4
of the hourglass compute.

Forward contract (both the checkpoint-faithful model and the export model):
    x: [B, 3, 256, 256] float32, BGR, in [-1, 1]
    -> (landmarks [B, 98, 2] in [-1, 1] (x, y) from the last stack,
        heatmaps [B, 98, 64, 64]: the last stack's fused heatmaps the landmarks come from)

`StarWFLW.export_module()` returns an inference-only equivalent written for a clean ONNX graph
(batch 1, static shapes, BatchNorm folded into convs or written as a per-channel affine, the
boundary mask as Ceil(Clip(h - 0.05, 0, 1)), the soft-argmax as one MatMul).

torch is imported here; this module is used only by the converters and their tests.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from app.base.model_files import STAR_STACKS, star_stack_count

# ---------------------------------------------------------------------------------------------
# WFLW configuration (conf/alignment.py, data_definition == "WFLW")
# ---------------------------------------------------------------------------------------------
NUM_POINTS = 98
NUM_EDGES = 9
CLASSES_NUM = (NUM_POINTS, NUM_EDGES, NUM_POINTS)  # heatmaps, edge maps, point maps
NSTACK = STAR_STACKS
NLEVELS = 4
CHANNELS = 256
INPUT_SIZE = 256
HEATMAP_SIZE = INPUT_SIZE // NSTACK  # 64: the reference uses width / nstack for the hourglass grid
BOUNDARY_THRESHOLD = 0.05            # compared in float32, strictly greater
INSTANCE_NORM_EPS = 1e-5
BN_EPS = 1e-5

# (closed, point indices) per edge: face contour, brows, nose line, nostrils, eyes, lips.
WFLW_EDGES: tuple[tuple[bool, tuple[int, ...]], ...] = (
    (False, tuple(range(0, 33))),
    (True, tuple(range(33, 42))),
    (True, tuple(range(42, 51))),
    (False, tuple(range(51, 55))),
    (False, tuple(range(55, 60))),
    (True, tuple(range(60, 68))),
    (True, tuple(range(68, 76))),
    (True, tuple(range(76, 88))),
    (True, tuple(range(88, 96))),
)


class CheckpointError(ValueError):
    """A checkpoint that is not a STAR WFLW state_dict (message names the file)."""


# ---------------------------------------------------------------------------------------------
# Coordinate channels
# ---------------------------------------------------------------------------------------------
def coord_channels(size: int) -> torch.Tensor:
    """[1, 3, size, size]: the two coordinate ramps in [-1, 1] and their normalised radius.

    As in the reference CoordConv, channel 0 grows along dim 2 (rows) and channel 1 along dim 3
    (columns); the radius is sqrt(c0^2 + c1^2) divided by its maximum.
    """
    ramp = torch.arange(size, dtype=torch.float32) / (size - 1) * 2 - 1
    c0 = ramp.view(1, 1, size, 1).expand(1, 1, size, size)
    c1 = ramp.view(1, 1, 1, size).expand(1, 1, size, size)
    r = torch.sqrt(c0 * c0 + c1 * c1)
    r = r / r.max()
    return torch.cat([c0, c1, r], dim=1).contiguous()


def boundary_mask(heat: torch.Tensor) -> torch.Tensor:
    """Reference boundary mask: clamp(h, 0, 1) > 0.05 as float."""
    return (torch.clamp(heat, 0.0, 1.0) > BOUNDARY_THRESHOLD).to(heat.dtype)


def boundary_mask_export(heat: torch.Tensor) -> torch.Tensor:
    """The same mask written with ops CoreML's MLProgram supports: Ceil(Clip(h - 0.05, 0, 1)).

    Exact for float32: h - 0.05f is > 0 exactly when h > 0.05f (IEEE subtraction of two distinct
    floats never rounds to zero), and Clip to [0, 1] then Ceil maps every positive value to 1
    and everything else (<= 0) to 0. (Only a NaN heatmap differs: NaN instead of 0; a NaN there
    means the whole forward pass is NaN already.)
    """
    return torch.ceil(torch.clamp(heat - BOUNDARY_THRESHOLD, 0.0, 1.0))


# ---------------------------------------------------------------------------------------------
# Building blocks (names fixed by the checkpoint layout)
# ---------------------------------------------------------------------------------------------
class ConvBlock(nn.Module):
    """conv (with bias) -> optional BatchNorm -> optional ReLU. Keys: conv.*, bn.*"""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1,
                 bn: bool = False, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=True)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS) if bn else None
        self.use_relu = relu

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.use_relu:
            x = F.relu(x)
        return x


class ResBlock(nn.Module):
    """Pre-activation bottleneck: (BN, ReLU, 1x1) (BN, ReLU, 3x3) (BN, ReLU, 1x1) + skip."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = cout // 2
        self.bn1 = nn.BatchNorm2d(cin, eps=BN_EPS)
        self.conv1 = ConvBlock(cin, mid, 1, relu=False)
        self.bn2 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.conv2 = ConvBlock(mid, mid, 3, relu=False)
        self.bn3 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.conv3 = ConvBlock(mid, cout, 1, relu=False)
        # Present in the checkpoint for every block; used only when the width changes.
        self.skip_layer = ConvBlock(cin, cout, 1, relu=False)
        self.need_skip = cin != cout

    def forward(self, x):
        residual = self.skip_layer(x) if self.need_skip else x
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + residual


class CoordConv(nn.Module):
    """Concatenate coordinate (+radius, +boundary) channels, then conv [-> BN] [-> ReLU].

    Keys: conv.*, bn.* (the channel helper of the reference has no parameters).
    with_boundary: two more channels (the coordinate ramps where the previous stack's last
    heatmap exceeds 0.05, else 0); the first hourglass gets no heatmap and has no such channels.
    """

    def __init__(self, size: int, cin: int, cout: int, kernel: int, stride: int, padding: int,
                 with_boundary: bool, bn: bool, relu: bool):
        super().__init__()
        self.size = size
        self.with_boundary = with_boundary
        extra = 3 + (2 if with_boundary else 0)
        self.conv = nn.Conv2d(cin + extra, cout, kernel, stride, padding, bias=True)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS) if bn else None
        self.use_relu = relu
        self.register_buffer("coords", coord_channels(size), persistent=False)

    def forward(self, x, heatmap=None):
        if self.with_boundary != (heatmap is not None):
            raise ValueError("boundary channels need the previous stack's heatmap (and only then)")
        b = x.shape[0]
        coords = self.coords.expand(b, -1, -1, -1)
        parts = [x, coords]
        if heatmap is not None:
            mask = boundary_mask(heatmap[:, -1:])
            parts.append(coords[:, :2] * mask)
        y = self.conv(torch.cat(parts, dim=1))
        if self.bn is not None:
            y = self.bn(y)
        if self.use_relu:
            y = F.relu(y)
        return y


class Hourglass(nn.Module):
    """Recursive hourglass; keys up1, low1, low2 (hourglass or block), low3 [, coordconv]."""

    def __init__(self, depth: int, channels: int, coord: bool = False, first: bool = False,
                 size: int = HEATMAP_SIZE):
        super().__init__()
        self.coordconv = (CoordConv(size, channels, channels, 1, 1, 0, with_boundary=not first,
                                    bn=False, relu=False) if coord else None)
        self.up1 = ResBlock(channels, channels)
        self.low1 = ResBlock(channels, channels)
        self.low2 = Hourglass(depth - 1, channels) if depth > 1 else ResBlock(channels, channels)
        self.low3 = ResBlock(channels, channels)

    def forward(self, x, heatmap=None):
        if self.coordconv is not None:
            x = self.coordconv(x, heatmap)
        up = self.up1(x)
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2, 2))))
        return up + F.interpolate(low, scale_factor=2.0, mode="nearest")


class EdgeToPoint(nn.Module):
    """Fixed 1x1 map from edge maps to point maps; buffers weight [98, 9, 1, 1], bias [98]."""

    def __init__(self, edges=WFLW_EDGES, num_points: int = NUM_POINTS):
        super().__init__()
        m = np.zeros((num_points, len(edges)), dtype=np.float32)
        for e, (_closed, idx) in enumerate(edges):
            m[list(idx), e] = 1.0
        m = torch.from_numpy(m)
        self.register_buffer("weight", m.view(num_points, len(edges), 1, 1).clone())
        # points on no edge (the pupils, 96 and 97) get a constant 1
        self.register_buffer("bias", (m.sum(1) < 0.5).float())

    def forward(self, edgemaps):
        return F.conv2d(edgemaps, self.weight, self.bias)


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    ramp = torch.arange(size, dtype=torch.float32) / (size - 1) * 2 - 1
    yy = ramp.view(size, 1).expand(size, size)
    xx = ramp.view(1, size).expand(size, size)
    return xx, yy


def soft_argmax(heatmap: torch.Tensor) -> torch.Tensor:
    """Reference decoder: heat-weighted mean of the pixel grid in [-1, 1], (x, y) order."""
    h, w = heatmap.shape[-2:]
    xx, yy = _grid(h)
    total = torch.clamp(heatmap.sum([2, 3]), min=1e-6)
    x = (xx.to(heatmap) * heatmap).sum([2, 3]) / total
    y = (yy.to(heatmap) * heatmap).sum([2, 3]) / total
    return torch.stack([x, y], dim=-1)


def _heat_act(x):
    return F.relu(F.instance_norm(x, eps=INSTANCE_NORM_EPS))


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------
class StarWFLW(nn.Module):
    """STAR stacked hourglass for WFLW, checkpoint-compatible with the official release."""

    def __init__(self, nstack: int = NSTACK, nlevels: int = NLEVELS, channels: int = CHANNELS):
        super().__init__()
        self.nstack = nstack
        c = channels
        self.pre = nn.Sequential(
            CoordConv(INPUT_SIZE, 3, 64, 7, 2, 3, with_boundary=False, bn=True, relu=True),
            ResBlock(64, 128),
            nn.MaxPool2d(2, 2),
            ResBlock(128, 128),
            ResBlock(128, c),
        )
        self.hgs = nn.ModuleList(
            [Hourglass(nlevels, c, coord=True, first=(s == 0)) for s in range(nstack)])
        self.features = nn.ModuleList(
            [nn.Sequential(ResBlock(c, c), ConvBlock(c, c, 1, bn=True, relu=True))
             for _ in range(nstack)])
        self.out_heatmaps = nn.ModuleList([ConvBlock(c, NUM_POINTS, 1, relu=False) for _ in range(nstack)])
        self.e2h_transform = EdgeToPoint()
        self.out_edgemaps = nn.ModuleList([ConvBlock(c, NUM_EDGES, 1, relu=False) for _ in range(nstack)])
        self.out_pointmaps = nn.ModuleList([ConvBlock(c, NUM_POINTS, 1, relu=False) for _ in range(nstack)])
        self.merge_edgemaps = nn.ModuleList([ConvBlock(NUM_EDGES, c, 1, relu=False) for _ in range(nstack - 1)])
        self.merge_pointmaps = nn.ModuleList([ConvBlock(NUM_POINTS, c, 1, relu=False) for _ in range(nstack - 1)])
        self.merge_features = nn.ModuleList([ConvBlock(c, c, 1, relu=False) for _ in range(nstack - 1)])
        self.merge_heatmaps = nn.ModuleList([ConvBlock(NUM_POINTS, c, 1, relu=False) for _ in range(nstack - 1)])

    def forward_all(self, x, stacks: int | None = None):
        """Per-stack outputs: list of dicts with landmarks, fused heatmaps, point and edge maps.

        stacks: run only the first `stacks` stacks (default all); the outputs of those stacks are
        the same as in a full run, since no stack sees a later one.
        """
        count = star_stack_count(stacks, self.nstack)
        x = self.pre(x)
        heat = None
        outputs = []
        for s in range(count):
            feature = self.features[s](self.hgs[s](x, heat))
            heat = _heat_act(self.out_heatmaps[s](feature))
            points = torch.sigmoid(self.out_pointmaps[s](feature))
            edges = torch.sigmoid(self.out_edgemaps[s](feature))
            fused = self.e2h_transform(edges) * points * heat
            outputs.append({"landmarks": soft_argmax(fused), "heatmaps": fused,
                            "pointmaps": points, "edgemaps": edges})
            if s < count - 1:
                x = (x + self.merge_features[s](feature) + self.merge_heatmaps[s](heat)
                     + self.merge_pointmaps[s](points) + self.merge_edgemaps[s](edges))
        return outputs

    def forward(self, x, stacks: int | None = None):
        """(landmarks, heatmaps) of the last stack run: stack `stacks` - 1 (default the last)."""
        last = self.forward_all(x, stacks)[-1]
        return last["landmarks"], last["heatmaps"]

    def export_module(self, **options) -> "StarExport":
        """Inference-only equivalent for ONNX export (batch 1, static shapes); see StarExport."""
        return StarExport(self, **options)


# ---------------------------------------------------------------------------------------------
# Export-mode equivalent
# ---------------------------------------------------------------------------------------------
def _bn_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) of an eval-mode BatchNorm, computed in float64."""
    var = bn.running_var.double()
    scale = bn.weight.double() / torch.sqrt(var + bn.eps)
    shift = bn.bias.double() - bn.running_mean.double() * scale
    return scale, shift


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None) -> nn.Conv2d:
    """A copy of conv with a following BatchNorm folded into its weight and bias."""
    out = copy.deepcopy(conv)
    if bn is None:
        return out
    scale, shift = _bn_affine(bn)
    w = conv.weight.double() * scale.view(-1, 1, 1, 1)
    b = (conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)) * scale + shift
    out.weight = nn.Parameter(w.float(), requires_grad=False)
    out.bias = nn.Parameter(b.float(), requires_grad=False)
    return out


class _Affine(nn.Module):
    """A standalone BatchNorm as per-channel x * scale + shift (ONNX Mul + Add) or 1x1 depthwise conv."""

    def __init__(self, bn: nn.BatchNorm2d, mode: str):
        super().__init__()
        scale, shift = _bn_affine(bn)
        self.mode = mode
        c = scale.numel()
        if mode == "muladd":
            self.register_buffer("scale", scale.float().view(1, c, 1, 1))
            self.register_buffer("shift", shift.float().view(1, c, 1, 1))
        elif mode == "dwconv":
            self.conv = nn.Conv2d(c, c, 1, groups=c, bias=True)
            self.conv.weight = nn.Parameter(scale.float().view(c, 1, 1, 1), requires_grad=False)
            self.conv.bias = nn.Parameter(shift.float(), requires_grad=False)
        else:
            raise ValueError(f"unknown bn_mode {mode!r}")

    def forward(self, x):
        if self.mode == "muladd":
            return x * self.scale + self.shift
        return self.conv(x)


class _XRes(nn.Module):
    def __init__(self, blk: ResBlock, bn_mode: str):
        super().__init__()
        self.pre = _Affine(blk.bn1, bn_mode)
        self.conv1 = _fold(blk.conv1.conv, blk.bn2)  # bn2 directly follows conv1
        self.conv2 = _fold(blk.conv2.conv, blk.bn3)  # bn3 directly follows conv2
        self.conv3 = _fold(blk.conv3.conv)
        self.skip = _fold(blk.skip_layer.conv) if blk.need_skip else None

    def forward(self, x):
        residual = self.skip(x) if self.skip is not None else x
        y = self.conv1(F.relu(self.pre(x)))
        y = self.conv2(F.relu(y))
        y = self.conv3(F.relu(y))
        return y + residual


class _XCoordConv(nn.Module):
    """Batch-1 CoordConv; the constant channels are passed in (shared graph initializers)."""

    def __init__(self, cc: CoordConv):
        super().__init__()
        self.conv = _fold(cc.conv, cc.bn)
        self.use_relu = cc.use_relu

    def forward(self, x, coords, ramps=None, heat_last=None):
        parts = [x, coords]
        if heat_last is not None:
            parts.append(ramps * boundary_mask_export(heat_last))
        y = self.conv(torch.cat(parts, dim=1))
        return F.relu(y) if self.use_relu else y


class _XHourglass(nn.Module):
    def __init__(self, hg: Hourglass, bn_mode: str):
        super().__init__()
        self.coordconv = _XCoordConv(hg.coordconv) if hg.coordconv is not None else None
        self.up1 = _XRes(hg.up1, bn_mode)
        self.low1 = _XRes(hg.low1, bn_mode)
        self.low2 = (_XHourglass(hg.low2, bn_mode) if isinstance(hg.low2, Hourglass)
                     else _XRes(hg.low2, bn_mode))
        self.low3 = _XRes(hg.low3, bn_mode)

    def forward(self, x, coords=None, ramps=None, heat_last=None):
        if self.coordconv is not None:
            x = self.coordconv(x, coords, ramps, heat_last)
        up = self.up1(x)
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2, 2))))
        return up + F.interpolate(low, scale_factor=2.0, mode="nearest")


class StarExport(nn.Module):
    """The STAR forward pass rewritten for a clean, CoreML-friendly ONNX graph (batch 1 only).

    - BatchNorm that follows a conv is folded into it. The pre-activation BatchNorm of each
      residual block (BN -> ReLU -> conv, so it cannot fold) becomes a per-channel affine with
      constant folded scale/shift: bn_mode "dwconv" (default) writes it as a 1x1 depthwise Conv,
      "muladd" as Mul + Add. Both are CoreML-supported; the depthwise form keeps ONNX Runtime's
      CPU NCHWc layout (it fuses the ReLU and avoids layout reorders around Mul/Add), so the CPU
      stays as fast as with the original BatchNormalization ops.
    - Coordinate channels and grids are constants; no tensor shape is ever read at run time.
    - The boundary mask is Ceil(Clip(h - 0.05, 0, 1)) (exactly clamp(h,0,1) > 0.05).
    - Instance norm keeps ONNX InstanceNormalization (unit scale, zero bias as initializers).
    - The head convs of a stack are merged into one conv + Split; the four merge convs into one
      conv over the concatenated maps (same sums, fewer kernels).
    - The soft-argmax is one MatMul of the flattened heatmap with a [4096, 3] constant
      (x, y and a column of ones for the normaliser).
    - stacks=k (early exit) runs stacks 0..k-1 only and returns stack k-1's outputs, which STAR
      trains with a landmark loss of their own; later stacks and the merge after stack k-1 are
      not copied, so they are not in the exported file either. Default: all stacks.
    """

    def __init__(self, net: StarWFLW, bn_mode: str = "dwconv", fuse_heads: bool = True,
                 fuse_merges: bool = True, stacks: int | None = None):
        super().__init__()
        net = net.eval()
        self.nstack = star_stack_count(stacks, net.nstack)
        self.fuse_heads = fuse_heads
        self.fuse_merges = fuse_merges
        self.stem = _XCoordConv(net.pre[0])
        self.pre = nn.ModuleList([_XRes(net.pre[1], bn_mode), _XRes(net.pre[3], bn_mode),
                                  _XRes(net.pre[4], bn_mode)])
        used = range(self.nstack)   # only the stacks that run: nothing unused is exported
        self.hgs = nn.ModuleList([_XHourglass(net.hgs[s], bn_mode) for s in used])
        self.feat_res = nn.ModuleList([_XRes(net.features[s][0], bn_mode) for s in used])
        self.feat_conv = nn.ModuleList([_fold(net.features[s][1].conv, net.features[s][1].bn) for s in used])
        heads, merges = [], []
        for s in used:
            hconvs = [net.out_heatmaps[s].conv, net.out_pointmaps[s].conv, net.out_edgemaps[s].conv]
            heads.append(_cat_out_convs(hconvs) if fuse_heads
                         else nn.ModuleList([_fold(c) for c in hconvs]))
            if s < self.nstack - 1:
                mconvs = [net.merge_features[s].conv, net.merge_heatmaps[s].conv,
                          net.merge_pointmaps[s].conv, net.merge_edgemaps[s].conv]
                merges.append(_cat_in_convs(mconvs) if fuse_merges
                              else nn.ModuleList([_fold(c) for c in mconvs]))
        self.heads = nn.ModuleList(heads)
        self.merges = nn.ModuleList(merges)
        self.e2h = copy.deepcopy(net.e2h_transform)
        self.register_buffer("stem_coords", coord_channels(INPUT_SIZE))
        self.register_buffer("hg_coords", coord_channels(HEATMAP_SIZE))
        self.register_buffer("hg_ramps", coord_channels(HEATMAP_SIZE)[:, :2].contiguous())
        self.register_buffer("in_scale", torch.ones(NUM_POINTS))
        self.register_buffer("in_shift", torch.zeros(NUM_POINTS))
        xx, yy = _grid(HEATMAP_SIZE)
        grid = torch.stack([xx.reshape(-1), yy.reshape(-1), torch.ones(HEATMAP_SIZE * HEATMAP_SIZE)], 1)
        self.register_buffer("grid", grid.contiguous())  # [4096, 3]
        self.register_buffer("min_total", torch.full((1, 1, 1), 1e-6))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        x = self.stem(x, self.stem_coords)
        x = self.pre[0](x)
        x = F.max_pool2d(x, 2, 2)
        x = self.pre[2](self.pre[1](x))
        last = None
        fused = None
        for s in range(self.nstack):
            hg = self.hgs[s](x, self.hg_coords, self.hg_ramps, last)
            feature = self.feat_conv[s](self.feat_res[s](hg))
            feature = F.relu(feature)
            if self.fuse_heads:
                raw = self.heads[s](feature)
                h_raw, p_raw, e_raw = torch.split(raw, [NUM_POINTS, NUM_POINTS, NUM_EDGES], dim=1)
            else:
                h_raw, p_raw, e_raw = (c(feature) for c in self.heads[s])
            heat = F.relu(F.instance_norm(h_raw, weight=self.in_scale, bias=self.in_shift,
                                          eps=INSTANCE_NORM_EPS))
            points = torch.sigmoid(p_raw)
            edges = torch.sigmoid(e_raw)
            if s < self.nstack - 1:
                if self.fuse_merges:
                    x = x + self.merges[s](torch.cat([feature, heat, points, edges], dim=1))
                else:
                    mf, mh, mp, me = self.merges[s]
                    x = x + mf(feature) + mh(heat) + mp(points) + me(edges)
                last = heat[:, NUM_POINTS - 1:NUM_POINTS]
            else:
                fused = self.e2h(edges) * points * heat
        sums = torch.matmul(fused.reshape(1, NUM_POINTS, HEATMAP_SIZE * HEATMAP_SIZE), self.grid)
        xy, total = torch.split(sums, [2, 1], dim=2)
        # clamp(total, min=1e-6) as Max with a constant (a Clip without max has an empty input)
        landmarks = xy / torch.maximum(total, self.min_total)
        return landmarks, fused


def _cat_out_convs(convs: list[nn.Conv2d]) -> nn.Conv2d:
    """One 1x1 conv producing the concatenated outputs of several 1x1 convs on the same input."""
    w = torch.cat([c.weight.detach() for c in convs], 0)
    b = torch.cat([c.bias.detach() for c in convs], 0)
    out = nn.Conv2d(w.shape[1], w.shape[0], 1, bias=True)
    out.weight = nn.Parameter(w.clone(), requires_grad=False)
    out.bias = nn.Parameter(b.clone(), requires_grad=False)
    return out


def _cat_in_convs(convs: list[nn.Conv2d]) -> nn.Conv2d:
    """One 1x1 conv over concatenated inputs equal to the sum of several 1x1 convs."""
    w = torch.cat([c.weight.detach() for c in convs], 1)
    b = sum(c.bias.detach().double() for c in convs).float()
    out = nn.Conv2d(w.shape[1], w.shape[0], 1, bias=True)
    out.weight = nn.Parameter(w.clone(), requires_grad=False)
    out.bias = nn.Parameter(b, requires_grad=False)
    return out


# ---------------------------------------------------------------------------------------------
# State dict, checkpoints, random weights
# ---------------------------------------------------------------------------------------------
def expected_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official STAR WFLW checkpoint's state_dict (parameters and buffers)."""
    return dict(_expected_shapes())


@functools.cache
def _expected_shapes() -> tuple[tuple[str, tuple[int, ...]], ...]:
    # Built once, on the CPU: 0.2 CPU s. On torch's "meta" device (no memory for the weights) it
    # took 1.5 s the first time (the coordinate channels' arange there goes through torch's Python
    # decompositions, which import torch._dynamo) and 0.16 s each further time, twice per checkpoint.
    return tuple((k, tuple(v.shape)) for k, v in StarWFLW().state_dict().items())


def parameter_count(net: nn.Module | None = None) -> int:
    net = net if net is not None else StarWFLW()
    return sum(p.numel() for p in net.parameters())


def _extract_state_dict(obj, path: Path) -> dict:
    sd = _weights_in(obj)
    if sd is None:
        raise CheckpointError(f"{path} is not a STAR checkpoint: expected the network weights under 'net' "
                              f"(or a plain state_dict), found {_describe(obj)}")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _weights_in(obj) -> dict | None:
    """The state_dict in a loaded checkpoint: under 'net' (STAR's own), 'state_dict', or the
    object itself when it is a dict of tensors; None when there is none."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("net"), dict):
        return obj["net"]
    if isinstance(obj.get("state_dict"), dict):
        return obj["state_dict"]
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    return None


def _describe(obj) -> str:
    """What a loaded checkpoint holds instead, in a few words."""
    if isinstance(obj, dict) and obj:
        return f"a dict with keys {', '.join(map(str, list(obj)[:8]))}"
    return f"{type(obj).__name__!s} {'(empty)' if not obj else ''}".strip()


# Key prefixes that identify the other network FaceMirror converts, for a clearer message.
_RETINAFACE_PREFIXES = ("body.", "fpn.", "ssh1.", "ssh2.", "ssh3.", "ClassHead.", "BboxHead.", "LandmarkHead.")


def _other_network_hint(sd: dict) -> str:
    if sum(1 for k in sd if str(k).startswith(_RETINAFACE_PREFIXES)) > len(sd) // 2:
        return ("\n  this is a RetinaFace face-detector checkpoint; convert it with: "
                "python main.py convert retinaface FILE")
    return ""


def check_state_dict(sd: dict, source: str = "checkpoint") -> None:
    """Raise CheckpointError unless sd has exactly the expected keys and shapes."""
    expected = expected_state_dict_shapes()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [(k, tuple(getattr(sd[k], "shape", ())), expected[k]) for k in expected
             if k in sd and tuple(getattr(sd[k], "shape", ())) != expected[k]]
    if not (missing or unexpected or wrong):
        return
    lines = [f"{source} is a checkpoint of another network: it does not match STAR WFLW (98 points, 4 stacks): "
             f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} wrong-shape keys"]
    lines += _first_keys("missing", missing) + _first_keys("unexpected", unexpected)
    for k, got, want in wrong[:5]:
        lines.append(f"  shape of {k}: checkpoint {list(got)}, network {list(want)}")
    raise CheckpointError("\n".join(lines) + _other_network_hint(sd))


def _first_keys(what: str, keys: list[str]) -> list[str]:
    """A message line naming the first five keys (none when there are none)."""
    if not keys:
        return []
    return [f"  {what}: " + ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")]


def load_star_checkpoint(path: str | Path) -> StarWFLW:
    """Load an official STAR WFLW checkpoint (torch.load(path)['net']) strictly; eval mode."""
    from app.convert.common import ConvertError, load_checkpoint_safely

    path = Path(path)
    try:
        obj = load_checkpoint_safely(path)
    except ConvertError as exc:  # already in plain words
        raise CheckpointError(str(exc)) from None
    sd = _extract_state_dict(obj, path)
    # Checkpoints written before BatchNorm had num_batches_tracked lack all of those counters;
    # torch's own strict loading accepts that (they do not affect inference), so do we.
    counters = [k for k in expected_state_dict_shapes() if k.endswith(".num_batches_tracked")]
    if not any(k in sd for k in counters):
        sd = {**sd, **{k: torch.tensor(0, dtype=torch.long) for k in counters}}
    check_state_dict(sd, source=str(path))
    net = StarWFLW()
    net.load_state_dict(sd, strict=True)
    return net.eval()


def _random_gain(name: str) -> float:
    if ".conv3." in name:                       # end of a residual branch
        return 0.3
    if name.startswith(("merge_", "out_")):     # stack merges and heads
        return 0.3
    return 1.0


def random_star(seed: int = 0) -> StarWFLW:
    """STAR with deterministic random weights, including non-trivial BatchNorm statistics.

    Scales keep activations bounded through the 4 stacks (pre-activation residual sums grow
    otherwise), so ONNX-vs-PyTorch comparisons test the graph rather than float overflow.
    """
    gen = torch.Generator().manual_seed(int(seed))
    net = StarWFLW()
    sd = net.state_dict()
    new = {}
    for name, t in sd.items():
        if name.startswith("e2h_transform."):
            new[name] = t
            continue
        leaf = name.rsplit(".", 1)[-1]
        is_bn = ".bn" in name or name.split(".")[-2].startswith("bn")
        if leaf == "num_batches_tracked":
            new[name] = torch.randint(1, 100000, (), generator=gen, dtype=torch.long)
        elif is_bn and leaf == "weight":
            new[name] = torch.rand(t.shape, generator=gen) * 1.0 + 0.5
        elif is_bn and leaf == "bias":
            new[name] = torch.randn(t.shape, generator=gen) * 0.1
        elif leaf == "running_mean":
            new[name] = torch.randn(t.shape, generator=gen) * 0.1
        elif leaf == "running_var":
            new[name] = torch.rand(t.shape, generator=gen) * 1.5 + 0.5
        elif leaf == "weight":  # conv
            fan_in = t[0].numel()
            gain = _random_gain(name)
            new[name] = torch.randn(t.shape, generator=gen) * (gain / fan_in ** 0.5)
        elif leaf == "bias":  # conv
            new[name] = torch.randn(t.shape, generator=gen) * 0.02
        else:
            raise AssertionError(f"unhandled state_dict entry {name}")
    net.load_state_dict(new, strict=True)
    return net.eval()
