"""SMART-style next-token model: token / map embeddings + map encoder + agent decoder + head.

Input is a `TokenBatch` (see `smartr1.tokens.batch`); output is, for every agent and token slot k, the
logits of the token at slot k + 1 (over the agent class's motion vocabulary). The motion vocabulary's
local-frame poses are a buffer of the model, so a checkpoint carries what its token ids mean.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from smartr1.data.geometry import box_corners, corner_distance, to_world
from smartr1.model.agent_decoder import AgentDecoder, DecoderCache, MapContext
from smartr1.model.config import SIZES, ModelConfig, model_config
from smartr1.model.fourier import FourierEmbedding
from smartr1.model.map_encoder import MapEncoder
from smartr1.tokens.vocabulary import CLASS_BOX

__all__ = ["SMART", "ModelConfig", "SIZES", "batch_nodes", "model_config", "node_inputs"]

SIZE_SCALE = 5.0  # metres
TOKEN_SCALE = 5.0  # metres


def _finite_pose(pose: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Zero the poses of invalid entries (and any non-finite values) so masked edges stay finite."""
    pose = torch.where(valid.unsqueeze(-1), pose, torch.zeros_like(pose))
    return torch.nan_to_num(pose, nan=0.0, posinf=0.0, neginf=0.0)


def node_inputs(
    token: torch.Tensor,
    token_valid: torch.Tensor,
    pose: torch.Tensor,
    agent_mask: torch.Tensor,
    pose_valid: torch.Tensor | None = None,
):
    """Whole-sequence decoder nodes from tokenized tracks.

    token / token_valid [B, A, S]; pose [B, A, S + 1, 3] anchor poses (pose_valid [B, A, S + 1] where
    known); agent_mask [B, A]. Node k sits at anchor k + 1 (the end of token k) and exists when that
    anchor has a pose (without pose_valid: when token k or token k + 1 is valid). A node without token k
    (e.g. the agent's first pose) gets a 'no motion known' input.
    Returns token_in [B, A, S] (-1 = none), node_pose [B, A, S, 3], node_valid [B, A, S].
    """
    if pose_valid is None:
        nxt = torch.zeros_like(token_valid)
        nxt[..., :-1] = token_valid[..., 1:]
        node_valid = token_valid | nxt
    else:
        node_valid = pose_valid[..., 1:].clone()
    node_valid &= agent_mask.unsqueeze(-1)
    token_in = torch.where(token_valid & node_valid, token, torch.full_like(token, -1))
    return token_in, pose[:, :, 1:], node_valid


def batch_nodes(batch, agent_mask: torch.Tensor | None = None):
    """`node_inputs` of a TokenBatch (optionally restricted to `agent_mask`)."""
    mask = batch.agents.mask if agent_mask is None else agent_mask
    return node_inputs(
        batch.agents.token, batch.agents.token_valid, batch.agents.pose, mask, batch.agents.pose_valid
    )


class SMART(nn.Module):
    def __init__(self, cfg: ModelConfig, vocab_poses: torch.Tensor | None = None):
        super().__init__()
        self.cfg = cfg
        c, v, d = cfg.num_classes, cfg.vocab_size, cfg.hidden
        if vocab_poses is None:
            vocab_poses = torch.zeros(c, v, 5, 3)
        if tuple(vocab_poses.shape) != (c, v, 5, 3):
            raise ValueError(f"vocab poses have shape {tuple(vocab_poses.shape)}, expected {(c, v, 5, 3)}")
        self.register_buffer("vocab_poses", vocab_poses.float().clone())
        self.token_mlp = nn.Sequential(
            nn.Linear(5 * 4, d), nn.LayerNorm(d), nn.ReLU(inplace=True), nn.Linear(d, d)
        )
        self.no_token = nn.Parameter(torch.zeros(c, d))
        self.class_emb = nn.Embedding(c, d)
        self.size_proj = nn.Linear(3, d)
        self.map_encoder = MapEncoder(cfg)
        self.decoder = AgentDecoder(cfg)
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, v))
        if cfg.geometric_head:
            # (end x, end y, middle x, middle y, end heading) of a token -> its output embedding
            self.head_tokens = FourierEmbedding(5, cfg.fourier_bands, d, d, periodic=(4,))
            self.head_query = nn.Sequential(
                nn.LayerNorm(d), nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, d)
            )
        if cfg.motion_prior:  # softplus(log(e - 1)) = 1: one logit less per metre off the continuation
            self.prior_scale = nn.Parameter(torch.full((c,), math.log(math.e - 1.0)))

    # ---- embeddings ------------------------------------------------------------------------------
    def token_table(self) -> torch.Tensor:
        """[C, V + 1, D]: every token's embedding from its geometry; row V = 'no token'."""
        p = self.vocab_poses
        feats = torch.cat([p[..., :2] / TOKEN_SCALE, p[..., 2:].cos(), p[..., 2:].sin()], dim=-1).flatten(-2)
        emb = self.token_mlp(feats)  # [C, V, D]
        return torch.cat([emb, self.no_token.unsqueeze(1)], dim=1)

    def output_table(self) -> torch.Tensor:
        """[C, V, D] output embeddings of the tokens from their geometry (geometric head only)."""
        p = self.vocab_poses
        feats = torch.stack([p[..., 4, 0], p[..., 4, 1], p[..., 2, 0], p[..., 2, 1]], dim=-1) / TOKEN_SCALE
        return self.head_tokens(torch.cat([feats, p[..., 4, 2:]], dim=-1))

    def continuation_distance(self) -> torch.Tensor:
        """[C, V, V]: mean corner distance (class box) between the end boxes of token i and token j, both
        started at the origin: how far token j ends from where repeating token i would end."""
        key = (self.vocab_poses.data_ptr(), self.vocab_poses._version, self.vocab_poses.device)
        if getattr(self, "_continuation", (None,))[0] != key:
            box = CLASS_BOX.to(self.vocab_poses)
            ends = box_corners(self.vocab_poses[:, :, -1], box[:, None, 0], box[:, None, 1])  # [C, V, 4, 2]
            dist = torch.stack([corner_distance(e[:, None], e[None]) for e in ends])
            self._continuation = (key, dist)
        return self._continuation[1]

    def logits(self, x: torch.Tensor, agent_class: torch.Tensor, token_in: torch.Tensor) -> torch.Tensor:
        """Decoder output x [B, A, ..., D], class [B, A], the node's input token [B, A, ...] (-1 = none)
        -> logits [B, A, ..., V] over the class's tokens."""
        out = self.head(x)
        c, v = self.cfg.num_classes, self.cfg.vocab_size
        lead = x.shape[:-1]  # [B, A, ...]
        cls = agent_class.clamp(0, c - 1).view(*agent_class.shape, *([1] * (len(lead) - agent_class.dim())))
        cls = cls.expand(lead)
        if self.cfg.motion_prior:
            rows = (cls * v + token_in.clamp(0, v - 1)).reshape(-1)
            dist = self.continuation_distance().reshape(c * v, v).index_select(0, rows).view(*lead, v)
            scale = nn.functional.softplus(self.prior_scale)[cls] * (token_in >= 0)
            out = out - scale.unsqueeze(-1) * dist
        if not self.cfg.geometric_head:
            return out
        table = self.output_table()  # [C, V, D]
        geo = self.head_query(x) @ table.reshape(c * v, -1).T / x.shape[-1] ** 0.5  # [..., C * V]
        geo = geo.unflatten(-1, (c, v))
        idx = cls.unsqueeze(-1).unsqueeze(-1).expand(*lead, 1, v)
        return out + geo.gather(-2, idx).squeeze(-2)

    def embed_agents(
        self,
        table: torch.Tensor,
        token: torch.Tensor,
        agent_class: torch.Tensor,
        agent_size: torch.Tensor,
    ) -> torch.Tensor:
        """token [B, A, ...] (-1 = none), class [B, A], size [B, A, 3] -> [B, A, ..., D]."""
        c, v1, d = table.shape
        extra = token.dim() - agent_class.dim()
        cls = agent_class.clamp(0, c - 1).view(*agent_class.shape, *([1] * extra))
        tok = torch.where(token >= 0, token, torch.full_like(token, v1 - 1)).clamp(max=v1 - 1)
        x = table.reshape(c * v1, d).index_select(0, (cls * v1 + tok).reshape(-1)).view(*token.shape, d)
        per_agent = self.class_emb(agent_class.clamp(0, c - 1)) + self.size_proj(
            torch.nan_to_num(agent_size) / SIZE_SCALE
        )
        return x + per_agent.view(*agent_class.shape, *([1] * extra), d)

    def encode_map(self, batch) -> MapContext:
        mask = batch.map.mask
        pose = _finite_pose(batch.map.pose, mask)
        pts = torch.where(mask[..., None, None], batch.map.points, torch.zeros_like(batch.map.points))
        pts = torch.nan_to_num(pts)
        x = self.map_encoder(pts, pose, batch.map.kind, batch.map.light, mask)
        return self.decoder.map_context(x, pose, mask)

    # ---- whole sequence --------------------------------------------------------------------------
    def forward(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """-> logits [B, A, S, V] for the token at slot k + 1, node_valid [B, A, S]."""
        ctx = self.encode_map(batch)
        token_in, pose, valid = batch_nodes(batch)
        return self.forward_nodes(ctx, token_in, pose, valid, batch.agents.cls, batch.agents.size), valid

    def forward_nodes(self, ctx, token_in, pose, valid, agent_class, agent_size, row=None) -> torch.Tensor:
        x = self.embed_agents(self.token_table(), token_in, agent_class, agent_size)
        x = self.decoder(x, _finite_pose(pose, valid), valid, ctx, row)
        return self.logits(x, agent_class, token_in)

    # ---- incremental decoding --------------------------------------------------------------------
    def empty_cache(self, b: int, a: int, device) -> DecoderCache:
        return self.decoder.empty_cache(b, a, device)

    def step(
        self,
        ctx: MapContext,
        cache: DecoderCache,
        table: torch.Tensor,
        token: torch.Tensor,
        pose: torch.Tensor,
        valid: torch.Tensor,
        agent_class: torch.Tensor,
        agent_size: torch.Tensor,
        row: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, DecoderCache]:
        """One slot: token [B, A] (-1 = none), pose [B, A, 3], valid [B, A] -> (logits [B, A, V], cache)."""
        x = self.embed_agents(table, token, agent_class, agent_size)
        x, cache = self.decoder.step(x, _finite_pose(pose, valid), valid, cache, ctx, row)
        return self.logits(x, agent_class, token), cache

    def token_poses(
        self, start: torch.Tensor, token: torch.Tensor, agent_class: torch.Tensor
    ) -> torch.Tensor:
        """World poses after each of the token's 5 steps: start [..., 3], token / class [...] -> [..., 5, 3]."""
        c, v = self.cfg.num_classes, self.cfg.vocab_size
        local = self.vocab_poses.reshape(c * v, 5, 3).index_select(
            0, (agent_class.clamp(0, c - 1) * v + token.clamp(0, v - 1)).reshape(-1)
        )
        return to_world(local.view(*token.shape, 5, 3), start.unsqueeze(-2))

    def num_parameters(self) -> dict[str, int]:
        def count(m):
            return sum(p.numel() for p in m.parameters())

        total = count(self)
        parts = {
            "map_encoder": count(self.map_encoder),
            "agent_decoder": count(self.decoder),
            "head": count(self.head)
            + (count(self.head_tokens) + count(self.head_query) if self.cfg.geometric_head else 0),
        }
        parts["embeddings"] = total - sum(parts.values())
        parts["total"] = total
        return parts
