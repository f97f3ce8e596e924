"""Fourier features of a few continuous scalars, followed by a small MLP.

Relative poses (metres, radians, slots) are smooth but span several scales; learned frequencies let the
network pick the scales it needs (as in SMART / QCNet). One MLP over the concatenated features of all
inputs keeps the per-edge cost low, which dominates closed-loop rollout time on CPU.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierEmbedding(nn.Module):
    """[..., in_dim] -> [..., out_dim]: cat(cos(2 pi f x), sin(2 pi f x), x) per input, then an MLP.

    Inputs listed in `periodic` are angles: they get cos(k x), sin(k x) for k = 1..bands instead, which
    are continuous across the +-pi wrap (learned frequencies and the raw angle are not, so a rounding
    error across the wrap would move the features and break frame invariance).
    """

    def __init__(self, in_dim: int, bands: int, hidden: int, out_dim: int, periodic: tuple[int, ...] = ()):
        super().__init__()
        self.in_dim = in_dim
        self.bands = bands
        self.periodic = tuple(periodic)
        self.linear_dims = tuple(i for i in range(in_dim) if i not in self.periodic)
        self.freqs = nn.Parameter(torch.randn(len(self.linear_dims), bands))
        self.register_buffer("harmonics", torch.arange(1, bands + 1, dtype=torch.float32), persistent=False)
        width = len(self.linear_dims) * (2 * bands + 1) + len(self.periodic) * 2 * bands
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden),
            nn.LayerNorm(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out_dim),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[..., in_dim] -> [..., width] raw Fourier features."""
        if not self.periodic:
            lin = x
        else:
            lin = x[..., list(self.linear_dims)]
        ang = (2.0 * math.pi) * lin.unsqueeze(-1) * self.freqs  # [..., linear dims, bands]
        feats = [torch.cat([ang.cos(), ang.sin(), lin.unsqueeze(-1)], dim=-1).flatten(-2)]
        if self.periodic:
            per = x[..., list(self.periodic)].unsqueeze(-1) * self.harmonics.to(x.dtype)  # [..., p, bands]
            feats.append(torch.cat([per.cos(), per.sin()], dim=-1).flatten(-2))
        return feats[0] if len(feats) == 1 else torch.cat(feats, dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [..., in_dim] -> [..., out_dim]; with mask [...] only the masked-in entries are embedded and
        the others are zeros (edges to padding: most agent-agent and map-agent slots)."""
        if mask is None:
            return self.mlp(self.features(x))
        out = x.new_zeros(*mask.shape, self.mlp[-1].out_features)
        return out.index_put((mask,), self.mlp(self.features(x[mask])))
