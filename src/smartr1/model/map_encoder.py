"""Map encoder: embeds 5 m map segments and mixes them with map-map attention within a radius.

The map is static over a rollout, so its encoding (and every decoder layer's keys / values over it)
is computed once per scenario and shared by all rollouts of that scenario.
"""

from __future__ import annotations

import torch
from torch import nn

from smartr1.data.geometry import points_to_local
from smartr1.model.attention import EdgeAttentionBlock, gather_rows, neighbours_within
from smartr1.model.config import ModelConfig
from smartr1.model.fourier import FourierEmbedding
from smartr1.model.relpose import ANGLE_DIMS, POSE_FEATURES, relative_pose_features
from smartr1.tokens.map import SEGMENT_POINTS, LightState, SegmentKind

NUM_SEGMENT_KINDS = len(SegmentKind)
NUM_LIGHT_STATES = len(LightState)
POINT_SCALE = 5.0  # metres


class MapEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d, inner = cfg.hidden, cfg.heads * cfg.head_dim
        self.cfg = cfg
        self.point_mlp = nn.Sequential(
            nn.Linear(SEGMENT_POINTS * 2, d), nn.LayerNorm(d), nn.ReLU(inplace=True), nn.Linear(d, d)
        )
        self.kind_emb = nn.Embedding(NUM_SEGMENT_KINDS, d)
        self.light_emb = nn.Embedding(NUM_LIGHT_STATES, d)
        angles = ANGLE_DIMS if cfg.periodic_angles else ()
        self.rel = FourierEmbedding(POSE_FEATURES, cfg.fourier_bands, d, 2 * inner, angles)
        self.layers = nn.ModuleList(
            EdgeAttentionBlock(d, cfg.heads, cfg.head_dim, cfg.ff_mult, cfg.dropout)
            for _ in range(cfg.map_layers)
        )
        self.out_norm = nn.LayerNorm(d)

    def forward(
        self,
        points: torch.Tensor,
        pose: torch.Tensor,
        kind: torch.Tensor,
        light: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """points [B, M, 11, 2], pose [B, M, 3], kind / light / mask [B, M] -> [B, M, D]."""
        b, m = mask.shape
        local = points_to_local(points, pose) / POINT_SCALE  # [B, M, 11, 2]
        local = torch.where(mask[..., None, None], local, torch.zeros_like(local))
        x = self.point_mlp(local.flatten(-2))
        x = x + self.kind_emb(kind.clamp(0, NUM_SEGMENT_KINDS - 1))
        x = x + self.light_emb(light.clamp(0, NUM_LIGHT_STATES - 1))
        x = x * mask[..., None]
        if m == 0 or not self.layers:
            return self.out_norm(x)
        cfg = self.cfg
        idx, valid = neighbours_within(
            pose[..., :2], pose[..., :2], mask, cfg.map_radius, cfg.map_neighbours, mask, exclude_self=True
        )
        src_pose = gather_rows(pose, idx)  # [B, M, K, 3]
        rel_k, rel_v = self.rel(relative_pose_features(src_pose, pose[:, :, None, :]), valid).chunk(2, dim=-1)
        n, kn = b * m, idx.shape[-1]
        rel_k, rel_v = rel_k.reshape(n, kn, -1), rel_v.reshape(n, kn, -1)
        valid = valid.reshape(n, kn)
        for layer in self.layers:
            k, v = layer.project_kv(x)
            kg = gather_rows(k, idx).reshape(n, kn, -1)
            vg = gather_rows(v, idx).reshape(n, kn, -1)
            x = layer(x.reshape(n, -1), kg, vg, rel_k, rel_v, valid).view(b, m, -1)
        return self.out_norm(x) * mask[..., None]
