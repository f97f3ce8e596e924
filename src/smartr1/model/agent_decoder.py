"""Agent decoder: per layer temporal, map-to-agent and agent-to-agent attention over motion-token nodes.

A node is (agent, slot k): the agent after its k-th 0.5 s token, placed at the end pose of that token.
Every edge points backwards or sideways in time (own slots k-w..k-1; map; other agents at slot k), so
the decoder is strictly causal and can run either over a whole sequence (training) or one slot at a
time with cached keys / values of past slots (closed-loop rollouts). Both paths share the same blocks
and give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from smartr1.model.attention import EdgeAttentionBlock, gather_rows, neighbours_within
from smartr1.model.config import ModelConfig
from smartr1.model.fourier import FourierEmbedding
from smartr1.model.relpose import ANGLE_DIMS, POSE_FEATURES, relative_pose_features


@dataclass
class MapContext:
    """The encoded map of Bs scenarios plus each decoder layer's map keys / values (computed once)."""

    pose: torch.Tensor  # [Bs, M, 3]
    mask: torch.Tensor  # [Bs, M]
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer ([Bs, M, I], [Bs, M, I])


@dataclass
class DecoderCache:
    """Keys / values of the last w slots for the temporal attention of each layer. Position j-1 along
    the window axis holds slot s-j when slot s is decoded next."""

    k: list[torch.Tensor]  # per layer [B, A, w, I]
    v: list[torch.Tensor]  # per layer [B, A, w, I]
    pose: torch.Tensor  # [B, A, w, 3]
    valid: torch.Tensor  # [B, A, w]

    def repeat_interleave(self, r: int) -> DecoderCache:
        """Each batch row repeated r times (rollouts folded into the batch: row b*r + i)."""

        def rep(t):
            return t.repeat_interleave(r, dim=0)

        return DecoderCache(
            [rep(t) for t in self.k], [rep(t) for t in self.v], rep(self.pose), rep(self.valid)
        )


def _shift_slots(t: torch.Tensor, j: int) -> torch.Tensor:
    """t [B, A, S, ...] -> same shape holding slot s-j at slot s (zeros for s < j)."""
    out = torch.zeros_like(t)
    if j < t.shape[2]:
        out[:, :, j:] = t[:, :, :-j]
    return out


class AgentDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d, inner, bands = cfg.hidden, cfg.heads * cfg.head_dim, cfg.fourier_bands
        self.inner = inner

        def block():
            return EdgeAttentionBlock(d, cfg.heads, cfg.head_dim, cfg.ff_mult, cfg.dropout)

        self.t_layers = nn.ModuleList(block() for _ in range(cfg.agent_layers))
        self.m_layers = nn.ModuleList(block() for _ in range(cfg.agent_layers))
        self.a_layers = nn.ModuleList(block() for _ in range(cfg.agent_layers))
        angles = ANGLE_DIMS if cfg.periodic_angles else ()
        self.rel_t = FourierEmbedding(POSE_FEATURES + 1, bands, d, 2 * inner, angles)
        self.rel_m = FourierEmbedding(POSE_FEATURES, bands, d, 2 * inner, angles)
        self.rel_a = FourierEmbedding(POSE_FEATURES, bands, d, 2 * inner, angles)

    # ---- shared pieces -------------------------------------------------------------------------
    def map_context(self, map_x: torch.Tensor, map_pose: torch.Tensor, map_mask: torch.Tensor) -> MapContext:
        return MapContext(map_pose, map_mask, [layer.project_kv(map_x) for layer in self.m_layers])

    def _map_edges(self, pose: torch.Tensor, valid: torch.Tensor, ctx: MapContext, row: torch.Tensor | None):
        """Queries pose [B, Q, 3] -> idx [B, Q, K], mask [B, Q, K], rel_k / rel_v [B, Q, K, I]."""
        map_pose, map_mask = ctx.pose, ctx.mask
        if row is not None:
            map_pose, map_mask = map_pose.index_select(0, row), map_mask.index_select(0, row)
        cfg = self.cfg
        idx, ok = neighbours_within(
            pose[..., :2],
            map_pose[..., :2],
            map_mask,
            cfg.map_to_agent_radius,
            cfg.map_to_agent_neighbours,
            valid,
        )
        src = gather_rows(map_pose, idx)
        rel_k, rel_v = self.rel_m(relative_pose_features(src, pose.unsqueeze(-2)), ok).chunk(2, dim=-1)
        return idx, ok, rel_k, rel_v

    def _agent_edges(self, pose: torch.Tensor, valid: torch.Tensor):
        """Agents at one slot: pose [B, A, 3], valid [B, A] -> idx, mask [B, A, K], rel_k / rel_v."""
        cfg = self.cfg
        idx, ok = neighbours_within(
            pose[..., :2],
            pose[..., :2],
            valid,
            cfg.agent_radius,
            cfg.agent_neighbours,
            valid,
            exclude_self=True,
        )
        src = gather_rows(pose, idx)
        rel_k, rel_v = self.rel_a(relative_pose_features(src, pose.unsqueeze(-2)), ok).chunk(2, dim=-1)
        return idx, ok, rel_k, rel_v

    def _temporal_rel(
        self, src_pose: torch.Tensor, dst_pose: torch.Tensor, gap: torch.Tensor, ok: torch.Tensor
    ):
        feats = relative_pose_features(src_pose, dst_pose, gap, float(self.cfg.time_window))
        return self.rel_t(feats, ok).chunk(2, dim=-1)

    def _map_attend(self, l, x, idx, ok, rel_k, rel_v, ctx: MapContext, row):
        shape = x.shape
        n, kn = x.numel() // shape[-1], idx.shape[-1]
        mk, mv = ctx.kv[l]
        kg = gather_rows(mk, idx, row).reshape(n, kn, -1)
        vg = gather_rows(mv, idx, row).reshape(n, kn, -1)
        out = self.m_layers[l](
            x.reshape(n, -1), kg, vg, rel_k.reshape(n, kn, -1), rel_v.reshape(n, kn, -1), ok.reshape(n, kn)
        )
        return out.view(shape)

    def _agent_attend(self, l, x, idx, ok, rel_k, rel_v):
        """x [B, A, D] (agents at one slot, B may fold slots)."""
        b, a, d = x.shape
        n, kn = b * a, idx.shape[-1]
        k, v = self.a_layers[l].project_kv(x)
        kg = gather_rows(k, idx).reshape(n, kn, -1)
        vg = gather_rows(v, idx).reshape(n, kn, -1)
        out = self.a_layers[l](
            x.reshape(n, d), kg, vg, rel_k.reshape(n, kn, -1), rel_v.reshape(n, kn, -1), ok.reshape(n, kn)
        )
        return out.view(b, a, d)

    # ---- whole sequence (training, reference) --------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        pose: torch.Tensor,
        valid: torch.Tensor,
        ctx: MapContext,
        row: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x [B, A, S, D], pose [B, A, S, 3], valid [B, A, S] -> [B, A, S, D]."""
        b, a, s, d = x.shape
        w = self.cfg.time_window
        n = b * a * s
        # temporal edges: slot s-j -> s for j = 1..w
        src_pose = torch.stack([_shift_slots(pose, j) for j in range(1, w + 1)], dim=3)  # [B, A, S, w, 3]
        t_ok = torch.stack([_shift_slots(valid, j) for j in range(1, w + 1)], dim=3) & valid.unsqueeze(-1)
        if self.training and self.cfg.temporal_edge_drop > 0:
            t_ok = t_ok & (torch.rand(t_ok.shape, device=t_ok.device) >= self.cfg.temporal_edge_drop)
        gap = torch.arange(1, w + 1, device=x.device, dtype=pose.dtype)
        t_rk, t_rv = self._temporal_rel(src_pose, pose.unsqueeze(3), gap, t_ok)
        t_rk, t_rv, t_ok = t_rk.reshape(n, w, -1), t_rv.reshape(n, w, -1), t_ok.reshape(n, w)
        # map edges for every node
        m_edges = self._map_edges(pose.reshape(b, a * s, 3), valid.reshape(b, a * s), ctx, row)
        # agent edges per slot: fold slots into the batch
        pose_bs = pose.transpose(1, 2).reshape(b * s, a, 3)
        a_edges = self._agent_edges(pose_bs, valid.transpose(1, 2).reshape(b * s, a))
        for l in range(self.cfg.agent_layers):
            k, v = self.t_layers[l].project_kv(x)
            kt = torch.stack([_shift_slots(k, j) for j in range(1, w + 1)], dim=3).reshape(n, w, -1)
            vt = torch.stack([_shift_slots(v, j) for j in range(1, w + 1)], dim=3).reshape(n, w, -1)
            x = self.t_layers[l](x.reshape(n, d), kt, vt, t_rk, t_rv, t_ok).view(b, a, s, d)
            x = self._map_attend(l, x.reshape(b, a * s, d), *m_edges, ctx, row).view(b, a, s, d)
            xs = x.transpose(1, 2).reshape(b * s, a, d)
            x = self._agent_attend(l, xs, *a_edges).view(b, s, a, d).transpose(1, 2)
        return x

    # ---- one slot at a time (rollouts) ---------------------------------------------------------
    def empty_cache(self, b: int, a: int, device, dtype=torch.float32) -> DecoderCache:
        w, inner, layers = self.cfg.time_window, self.inner, self.cfg.agent_layers
        z = torch.zeros(b, a, w, inner, device=device, dtype=dtype)
        return DecoderCache(
            [z.clone() for _ in range(layers)],
            [z.clone() for _ in range(layers)],
            torch.zeros(b, a, w, 3, device=device, dtype=dtype),
            torch.zeros(b, a, w, dtype=torch.bool, device=device),
        )

    def step(
        self,
        x: torch.Tensor,
        pose: torch.Tensor,
        valid: torch.Tensor,
        cache: DecoderCache,
        ctx: MapContext,
        row: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, DecoderCache]:
        """Decode the next slot: x [B, A, D], pose [B, A, 3], valid [B, A] -> ([B, A, D], updated cache)."""
        b, a, d = x.shape
        w = self.cfg.time_window
        n = b * a
        gap = torch.arange(1, w + 1, device=x.device, dtype=pose.dtype)
        t_ok = cache.valid & valid.unsqueeze(-1)  # [B, A, w]
        t_rk, t_rv = self._temporal_rel(cache.pose, pose.unsqueeze(2), gap, t_ok)
        t_ok = t_ok.reshape(n, w)
        t_rk, t_rv = t_rk.reshape(n, w, -1), t_rv.reshape(n, w, -1)
        m_edges = self._map_edges(pose, valid, ctx, row)
        a_edges = self._agent_edges(pose, valid)
        new_k, new_v = [], []
        for l in range(self.cfg.agent_layers):
            k, v = self.t_layers[l].project_kv(x)
            x = self.t_layers[l](
                x.reshape(n, d), cache.k[l].reshape(n, w, -1), cache.v[l].reshape(n, w, -1), t_rk, t_rv, t_ok
            ).view(b, a, d)
            new_k.append(torch.cat([k.unsqueeze(2), cache.k[l][:, :, :-1]], dim=2))
            new_v.append(torch.cat([v.unsqueeze(2), cache.v[l][:, :, :-1]], dim=2))
            x = self._map_attend(l, x, *m_edges, ctx, row)
            x = self._agent_attend(l, x, *a_edges)
        cache = DecoderCache(
            new_k,
            new_v,
            torch.cat([pose.unsqueeze(2), cache.pose[:, :, :-1]], dim=2),
            torch.cat([valid.unsqueeze(2), cache.valid[:, :, :-1]], dim=2),
        )
        return x, cache
