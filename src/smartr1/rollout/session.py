"""A stepped closed-loop rollout session on top of the model's cached decoder.

`reset(batch)` encodes the map once per scenario, decodes the two history slots once per scenario and
folds R rollouts into the batch axis (row b * R + r); each `step(state, choose)` then lets `choose`
pick every simulated agent's next token from its logits, moves the agents along that token's five
10 Hz poses, and decodes only the newest slot against cached keys / values of the agents' past slots.
`choose` is where rollouts differ: top-k sampling (`TopKSampler`), CAT-K's closest-of-top-K
(fine-tuning), or tokens of externally driven agents.

Only the simulated agents (valid at the current step) take part; the others would be masked work.
Inside a session their columns are compacted to the front (`RolloutScene.cols` maps them back).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from smartr1.data.errors import DataError
from smartr1.data.shapes import shape_problem
from smartr1.data.timeline import HISTORY_SLOTS, NUM_SLOTS, STEPS_PER_TOKEN
from smartr1.model.agent_decoder import DecoderCache, MapContext
from smartr1.model.smart import SMART, batch_nodes
from smartr1.rollout.sampling import DEFAULT_TOP_K, draw_uniforms, sample_top_k, scenario_generators
from smartr1.tokens.batch import TokenBatch

START_POSES = ("logged", "tokenized")
DEFAULT_START = "logged"  # measured better on the kinematic likelihoods (benchmarks/results/rollout_start.md)


@dataclass(frozen=True)
class RolloutScene:
    """What stays fixed during a rollout of B scenarios x R rollouts (N = B * R rows, A' columns).

    batch         TokenBatch  the batch restricted to its simulated agents, [B, A'] (compacted columns)
    cols          [B, A']     long   column of the original batch (-1 for padding)
    num_rollouts  int         R
    ctx           MapContext  encoded map per scenario (B rows), shared by its rollouts
    table         [C, V+1, D] float  token embeddings
    row           [N]         long   scenario of each folded row
    sim           [N, A']     bool   simulated agents
    agent_class   [N, A']     long   agent class
    agent_size    [N, A', 3]  float  length, width, height
    """

    batch: TokenBatch
    cols: torch.Tensor
    num_rollouts: int
    ctx: MapContext
    table: torch.Tensor
    row: torch.Tensor
    sim: torch.Tensor
    agent_class: torch.Tensor
    agent_size: torch.Tensor

    @property
    def scenario_ids(self) -> list[str]:
        return list(self.batch.scenario_id)


@dataclass(frozen=True)
class RolloutState:
    """A rollout in progress: `slot` is the token slot chosen next (2..17; 18 = done).

    scene   RolloutScene
    slot    int
    start   [N, A', 3]  float  the pose the future started from (anchor 2)
    pose    [N, A', 3]  float  every agent's pose at the start of `slot`
    logits  [N, A', V]  float  logits of the token at `slot` (None when done)
    cache   DecoderCache
    tokens  list        chosen tokens of slots 2..slot-1, each [N, A'] long (-1 = not simulated)
    poses   list        their 10 Hz poses, each [N, A', 5, 3] float (zeros = not simulated)
    """

    scene: RolloutScene
    slot: int
    start: torch.Tensor
    pose: torch.Tensor
    logits: torch.Tensor | None
    cache: DecoderCache
    tokens: list[torch.Tensor]
    poses: list[torch.Tensor]

    @property
    def done(self) -> bool:
        return self.slot >= NUM_SLOTS

    def validate(self) -> RolloutState:
        """The state itself, or a ValueError naming the first field (of the state, its scene or the
        scene's batch) whose shape, dtype or masking differs from the docstrings."""
        sc = self.scene
        sc.batch.validate()
        b, a = sc.batch.agents.mask.shape
        n = b * sc.num_rollouts
        sizes = {"B": b, "A'": a, "N": n}
        problem = shape_problem(sc, "RolloutScene", sizes) or shape_problem(self, "RolloutState", sizes)
        chosen = self.slot - HISTORY_SLOTS
        if not problem and not len(self.tokens) == len(self.poses) == chosen:
            got = f"{len(self.tokens)} / {len(self.poses)}"
            problem = f"RolloutState.tokens / poses: expected {chosen} each at slot {self.slot}, got {got}"
        if not problem and (self.logits is None) != self.done:
            problem = f"RolloutState.logits: expected {'None' if self.done else 'logits'} at slot {self.slot}"
        for k, (tok, pose) in enumerate(zip(self.tokens, self.poses, strict=False)):
            want = f"[N={n}, A'={a}"
            if problem:
                break
            if tuple(tok.shape) != (n, a) or tok.dtype != torch.long:
                problem = (
                    f"RolloutState.tokens[{k}]: expected {want}] long, got {tuple(tok.shape)} {tok.dtype}"
                )
            elif tuple(pose.shape) != (n, a, STEPS_PER_TOKEN, 3):
                problem = f"RolloutState.poses[{k}]: expected {want}, {STEPS_PER_TOKEN}, 3], got {tuple(pose.shape)}"
        if problem:
            raise ValueError(problem)
        return self


Chooser = Callable[[RolloutState, torch.Tensor], torch.Tensor]
"""(state, logits [N, A', V]) -> the chosen token of every agent [N, A'] long."""


def simulated_agents(batch: TokenBatch) -> torch.Tensor:
    """The simulated agents [B, A]; raises DataError when one of them has no usable current pose."""
    sim = batch.agents.mask & batch.agents.sim_mask
    cur = batch.agents.pose[:, :, HISTORY_SLOTS]
    bad = sim & ~torch.isfinite(cur).all(-1)
    if bad.any():
        b, a = (int(v) for v in torch.nonzero(bad)[0])
        raise DataError(
            None,
            f"scenario {batch.scenario_id[b]!r}: agent {int(batch.agents.id[b, a])} has a non-finite pose "
            "at the current step",
        )
    return sim


def _compact(batch: TokenBatch, sim: torch.Tensor) -> tuple[TokenBatch, torch.Tensor]:
    """The batch restricted to its simulated agents, and the original column of every kept column.
    Columns past a scene's simulated agents are padding: masks False, id and token -1."""
    b, a = sim.shape
    n = sim.sum(1)
    width = max(1, int(n.max()) if b else 1)
    order = torch.argsort((~sim).to(torch.int8), dim=1, stable=True)[:, :width]  # sim agents first, in order
    keep = torch.arange(width, device=sim.device)[None] < n[:, None]
    cols = torch.where(keep, order, torch.full_like(order, -1))
    fields = {}
    for f in dataclasses.fields(batch.agents):
        t = getattr(batch.agents, f.name)
        idx = order.view(b, width, *([1] * (t.dim() - 2))).expand(b, width, *t.shape[2:])
        g = torch.gather(t, 1, idx)
        k = keep.view(b, width, *([1] * (t.dim() - 2)))
        if g.dtype == torch.bool:
            g = g & k
        elif f.name in ("id", "token"):
            g = torch.where(k, g, torch.full_like(g, -1))
        fields[f.name] = g
    return dataclasses.replace(batch, agents=dataclasses.replace(batch.agents, **fields)), cols


class RolloutSession:
    """Closed-loop rollouts of `model` (put in eval mode; call under `torch.no_grad()` unless
    gradients are wanted)."""

    def __init__(self, model: SMART, num_rollouts: int = 32, start: str = DEFAULT_START):
        """`start`: where the token chain of the future begins, the logged step-10 pose (default; the
        metric differences simulated step 11 against it) or the tokenized one (where the history's
        tokens end, up to a few cm away)."""
        if start not in START_POSES:
            raise ValueError(f"start must be one of {START_POSES}, not {start!r}")
        self.model = model
        self.num_rollouts = num_rollouts
        self.start = start

    def reset(self, batch: TokenBatch) -> RolloutState:
        """Encode the map and the history; the returned state holds the logits of slot 2."""
        model, r = self.model, self.num_rollouts
        batch, cols = _compact(batch.validate(), simulated_agents(batch))
        b, a = batch.agents.mask.shape
        dev = batch.agents.mask.device
        sim = batch.agents.mask & batch.agents.sim_mask
        token_in, node_pose, node_valid = batch_nodes(batch, sim)
        node_valid[..., 1] = sim  # the current pose (anchor 2) is known for every simulated agent
        cls, size = batch.agents.cls, batch.agents.size
        ctx = model.encode_map(batch)
        table = model.token_table()
        cache = model.empty_cache(b, a, dev)
        for k in range(HISTORY_SLOTS):
            logits, cache = model.step(
                ctx, cache, table, token_in[..., k], node_pose[..., k, :], node_valid[..., k], cls, size
            )
        row = torch.arange(b, device=dev).repeat_interleave(r)  # fold rollouts into the batch
        scene = RolloutScene(batch, cols, r, ctx, table, row, sim[row], cls[row], size[row])
        start = (batch.agents.logged[:, :, HISTORY_SLOTS] if self.start == "logged" else node_pose[:, :, 1])[
            row
        ]
        return RolloutState(
            scene=scene,
            slot=HISTORY_SLOTS,
            start=start,
            pose=start,
            logits=logits.repeat_interleave(r, 0),
            cache=cache.repeat_interleave(r),
            tokens=[],
            poses=[],
        ).validate()

    def step(
        self,
        state: RolloutState,
        choose: Chooser,
        driven: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[RolloutState, torch.Tensor]:
        """Choose and apply the tokens of `state.slot`; returns the next state and the logits the
        tokens were chosen from [N, A', V].

        `driven` = (mask [N, A'], poses [N, A', 5, 3]): agents moved from outside (e.g. a user's ego
        planner). They take those five 10 Hz poses instead of their token's, so the model's next step
        sees them exactly where they are; `choose` should give them the token of that motion.
        """
        if state.done:
            raise ValueError("the rollout is complete (all 16 future slots are chosen)")
        sc, model = state.scene, self.model
        logits = state.logits
        tok = choose(state, logits)
        tok = torch.where(sc.sim, tok, torch.full_like(tok, -1))
        steps = model.token_poses(state.pose, tok, sc.agent_class)  # [N, A', 5, 3]
        if driven is not None:
            mask, poses = driven
            steps = torch.where(mask[..., None, None], poses.to(steps.dtype), steps)
        steps = torch.where(sc.sim[..., None, None], steps, torch.zeros_like(steps))
        pose = steps[:, :, -1]
        nxt, cache = None, state.cache
        if state.slot < NUM_SLOTS - 1:
            nxt, cache = model.step(
                sc.ctx, cache, sc.table, tok, pose, sc.sim, sc.agent_class, sc.agent_size, sc.row
            )
        new = RolloutState(
            sc, state.slot + 1, state.start, pose, nxt, cache, [*state.tokens, tok], [*state.poses, steps]
        )
        return new, logits


class TopKSampler:
    """Sample among each agent's top-k tokens at a temperature (SMART's rollout policy).

    Uniforms are drawn per scenario from a generator seeded by (seed, scenario id) and only for its
    simulated agents, so a scenario's rollouts do not depend on which other scenarios or how much
    padding share its batch.
    """

    def __init__(
        self, scene: RolloutScene, seed: int = 0, top_k: int = DEFAULT_TOP_K, temperature: float = 1.0
    ):
        self.generators = scenario_generators(seed, scene.scenario_ids)
        self.sim = scene.batch.agents.mask & scene.batch.agents.sim_mask
        self.num_rollouts = scene.num_rollouts
        self.top_k, self.temperature = top_k, temperature

    def __call__(self, state: RolloutState, logits: torch.Tensor) -> torch.Tensor:
        b, a = self.sim.shape
        u = draw_uniforms(self.generators, self.sim, self.num_rollouts).reshape(b * self.num_rollouts, a)
        return sample_top_k(logits, u, self.top_k, self.temperature)


def replay_nodes(state: RolloutState, rows: torch.Tensor | None = None):
    """Whole-sequence decoder inputs of a completed rollout, for one teacher-forced pass over the
    states it visited (log-probabilities with gradients, CAT-K targets): the history nodes as `reset`
    decoded them, then node k at the end pose of the token chosen for slot k.

    `rows` [n] picks folded rows (rollouts); default all. Returns token_in [n, A', 18], pose
    [n, A', 18, 3], valid [n, A', 18], and the row -> scenario map [n] for the map context. Output of
    node k predicts the token of slot k + 1, so node k - 1 gives the logits slot k was chosen from.
    """
    if not state.done:
        raise ValueError("replay needs a completed rollout")
    sc = state.scene
    rows = torch.arange(sc.row.numel(), device=sc.row.device) if rows is None else rows
    scen = sc.row[rows]
    sim = sc.sim[rows]
    token_in, pose, valid = batch_nodes(sc.batch, sc.batch.agents.mask & sc.batch.agents.sim_mask)
    token_in, pose, valid = token_in[scen].clone(), pose[scen].clone(), valid[scen].clone()
    valid[..., 1] = sim
    future = torch.stack(state.tokens, -1)[rows]  # [n, A', 16]
    ends = torch.stack([p[:, :, -1] for p in state.poses], 2)[rows]  # [n, A', 16, 3]
    token_in[..., HISTORY_SLOTS:] = torch.where(sim[..., None], future, torch.full_like(future, -1))
    pose[..., HISTORY_SLOTS:, :] = ends
    valid[..., HISTORY_SLOTS:] = sim[..., None]
    return token_in, pose, valid, scen


def replay_logits(model: SMART, state: RolloutState, rows: torch.Tensor | None = None, ctx=None):
    """Logits [n, A', 16, V] each future token was chosen from, recomputed in one whole-sequence pass
    (with gradients if enabled; put the model in eval mode to match sampling)."""
    sc = state.scene
    token_in, pose, valid, scen = replay_nodes(state, rows)
    ctx = model.encode_map(sc.batch) if ctx is None else ctx
    cls, size = sc.batch.agents.cls[scen], sc.batch.agents.size[scen]
    logits = model.forward_nodes(ctx, token_in, pose, valid, cls, size, scen)
    return logits[:, :, HISTORY_SLOTS - 1 : NUM_SLOTS - 1]
