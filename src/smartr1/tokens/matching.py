"""Token matching and chaining: which token best moves a box from one pose to another, and where a
chain of tokens takes an agent. Matching runs in torch (chunked, any device)."""

from __future__ import annotations

import torch

from smartr1.data.geometry import box_corners, to_local, to_world
from smartr1.tokens.vocabulary import CLASS_BOX, MotionVocab


def _gather_class(table: torch.Tensor, cls: torch.Tensor, candidates: torch.Tensor | None) -> torch.Tensor:
    # table [3, V, ...] -> [N, V or K, ...]
    if candidates is None:
        return table[cls]
    return table[cls[:, None], candidates]


def _brute_force(target, cls, vocab, cand, chunk_elems) -> torch.Tensor:
    """Exact argmin of the mean corner distance over all tokens (or the candidates) per row."""
    width = vocab.size if cand is None else cand.shape[1]
    step = max(1, chunk_elems // (width * 8))
    out = []
    for i in range(0, target.shape[0], step):
        c = cls[i : i + step]
        cont = _gather_class(vocab.contours, c, None if cand is None else cand[i : i + step])  # [n, W, 4, 2]
        d = torch.linalg.vector_norm(cont - target[i : i + step, None], dim=-1).mean(-1)
        best = d.argmin(-1)
        out.append(best if cand is None else cand[i : i + step].gather(1, best[:, None])[:, 0])
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=target.device)


def _prefiltered(target, cls, vocab, chunk_elems, k: int = 32) -> torch.Tensor:
    """Exact argmin via an RMS-corner-distance prefilter (one matrix product per class).

    For any token, mean corner distance m and RMS corner distance r satisfy m <= r <= 2m. After
    ranking by r and scoring the k best exactly (best m*), a token outside them can only win if its r
    is below 2 m*; rows where the k-th r is not above that bound are re-solved by brute force.
    """
    out = torch.empty(target.shape[0], dtype=torch.long, device=target.device)
    k = min(k, vocab.size)
    flat_t = target.reshape(-1, 8).double()
    for c in cls.unique().tolist():
        rows = torch.nonzero(cls == c).flatten()
        cont = vocab.contours[c].reshape(-1, 8).double()  # [V, 8]
        c_sq = (cont**2).sum(-1)
        step = max(1, chunk_elems // vocab.size)
        for i in range(0, rows.numel(), step):
            r_i = rows[i : i + step]
            t = flat_t[r_i]
            # squared L2 over the 8 coordinates = 4 * RMS^2 (float64: the expansion cancels digits)
            t_sq = (t**2).sum(-1, keepdim=True)
            sq = torch.addmm(c_sq[None] + t_sq, t, cont.T, alpha=-2.0)
            sq_k, idx = torch.topk(sq, k, dim=-1, largest=False)  # ascending
            cand = vocab.contours[c][idx]  # [n, k, 4, 2]
            m = torch.linalg.vector_norm(cand - target[r_i, None], dim=-1).mean(-1)
            m_best, j = m.min(-1)
            best = idx.gather(1, j[:, None])[:, 0]
            # A token outside the k can win only if its RMS < 2 m*, i.e. sq < 16 m*^2, up to the
            # rounding of sq (relative to the magnitudes: a winner has |c| <= |t| + 4 m*) and of m.
            mb = m_best.double() * (1 + 1e-5) + 1e-7
            reach = t_sq[:, 0] + (t_sq[:, 0].sqrt() + 4 * mb) ** 2
            unsure = sq_k[:, -1] <= 16 * mb**2 + 1e-12 * reach
            if unsure.any() and k < vocab.size:
                u = torch.nonzero(unsure).flatten()
                best[u] = _brute_force(target[r_i[u]], cls[r_i[u]], vocab, None, chunk_elems)
            out[r_i] = best
    return out


def match_tokens(
    start_pose: torch.Tensor,
    target_pose: torch.Tensor,
    agent_class: torch.Tensor,
    vocab: MotionVocab,
    candidates: torch.Tensor | None = None,
    chunk_elems: int = 1 << 22,
    exact_search: bool = False,
) -> torch.Tensor:
    """The token (among `candidates` [..., K] if given, else all V) whose end box, placed at `start_pose`
    [..., 3], is closest (mean corner distance, class box) to the box at `target_pose` [..., 3].

    Ties resolve to the lowest token id (or the first candidate). Searching all V uses an exact
    prefilter; `exact_search` forces the plain brute force (same answer up to float ties).
    """
    lead = start_pose.shape[:-1]
    local = to_local(target_pose.double(), start_pose.double()).reshape(-1, 3)
    cls = agent_class.reshape(-1).long().to(vocab.device)
    box = CLASS_BOX.to(vocab.device)[cls]
    target = box_corners(local, box[:, 0].double(), box[:, 1].double()).float().to(vocab.device)  # [N, 4, 2]
    if target.shape[0] == 0:
        return torch.zeros(lead, dtype=torch.long, device=vocab.device)
    if candidates is not None:
        cand = candidates.reshape(-1, candidates.shape[-1]).long().to(vocab.device)
        tok = _brute_force(target, cls, vocab, cand, chunk_elems)
    elif exact_search or vocab.size <= 64:
        tok = _brute_force(target, cls, vocab, None, chunk_elems)
    else:
        tok = _prefiltered(target, cls, vocab, chunk_elems)
    return tok.reshape(lead)


def apply_tokens(
    start_pose: torch.Tensor, tokens: torch.Tensor, agent_class: torch.Tensor, vocab: MotionVocab
) -> torch.Tensor:
    """Chain K tokens [..., K] from `start_pose` [..., 3]: the 10 Hz poses after each step [..., K * 5, 3].

    Negative ids (padding) mean 'no motion'.
    """
    k = tokens.shape[-1]
    cls = agent_class.long().to(vocab.device)
    pose = start_pose
    out = []
    for j in range(k):
        tok = tokens[..., j].long().clamp(min=0).to(vocab.device)
        local = vocab.poses[cls, tok].to(pose.dtype)  # [..., 5, 3]
        world = to_world(local, pose[..., None, :])
        out.append(world)
        pose = world[..., -1, :]
    if not out:
        return start_pose.new_zeros(*start_pose.shape[:-1], 0, 3)
    return torch.cat(out, dim=-2)
