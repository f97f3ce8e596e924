"""A Gymnasium environment: drive one ego agent (the scenario's self-driving car) among learned,
reactive sim agents, from the scenario's current step to its end (8 s at 10 Hz).

Action: `[a, s]` in [-1, 1]^2 (normalised, as RL libraries prefer): acceleration 4 a m/s^2 and steering
angle 0.6 s rad, applied through a kinematic bicycle model (wheelbase 0.6 x the ego's length, speed
clipped to [0, 30] m/s). Observation (float32, ego frame:
x forward, y left):
- `[0:2]` ego speed (m/s) and yaw rate (rad/s);
- `[2:12]` the logged ego route 1..5 s ahead as (x, y) points (where the log was going);
- `[12:52]` the 8 nearest other agents within 50 m as (x, y, vx, vy, present), nearest first.
Reward per step: progress along the logged route (m) / 10, -1 on collision, -1 on going offroad.
Terminated on collision or offroad (WOSAC's definitions: rounded-box overlap; a box corner beyond the
road edge); truncated at the end of the scenario.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch

from smartr1.data.scenario import Scenario
from smartr1.data.timeline import NUM_STEPS, STEP_SECONDS
from smartr1.metrics.interaction import distance_to_nearest_object
from smartr1.metrics.map_features import distance_to_road_edge, road_edges_from_scenario
from smartr1.sim.agents import SimAgents

MAX_ACCEL = 4.0  # m/s^2 at |a| = 1
MAX_STEER = 0.6  # rad at |s| = 1
NEIGHBOURS = 8
NEIGHBOUR_RADIUS = 50.0
ROUTE_SECONDS = (1, 2, 3, 4, 5)
OBS_SIZE = 2 + 2 * len(ROUTE_SECONDS) + 5 * NEIGHBOURS


class SimAgentsEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        sim_agents: SimAgents | None = None,
        checkpoint: str = "smartr1-nano-sumo",
    ):
        if not scenarios:
            raise ValueError("SimAgentsEnv needs at least one scenario")
        self.scenarios = list(scenarios)
        self.sim = sim_agents or SimAgents.from_checkpoint(checkpoint)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        # positions relative to the ego: bounded by the map, not by a constant
        self.observation_space = gym.spaces.Box(-1e4, 1e4, (OBS_SIZE,), np.float32)
        self._index = 0

    # ---- episode --------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "scenario" in options:
            self._index = int(options["scenario"])
        else:  # drawn from the env's generator: the same seed, the same scenario
            self._index = int(self.np_random.integers(len(self.scenarios)))
        sc = self.scenarios[self._index]
        self.scenario = sc
        t, cur = sc.tracks, sc.current_step
        self.sim.seed = int(self.np_random.integers(2**31))  # reset(seed=s) reproduces the traffic
        poses = self.sim.reset(sc)
        self.ego_id = int(sc.sdc_id)
        if self.ego_id not in poses:
            raise ValueError(f"scenario {sc.scenario_id!r}: its SDC is not valid at the current step")
        i = sc.sdc_track_index
        self.ego = np.array([t.x[i, cur], t.y[i, cur], t.heading[i, cur]], np.float64)
        prev = np.array([t.x[i, cur - 1], t.y[i, cur - 1]]) if t.valid[i, cur - 1] else self.ego[:2]
        self.speed = float(np.hypot(*(self.ego[:2] - prev)) / STEP_SECONDS)
        self.yaw_rate = 0.0
        self.size = (float(t.length[i, cur]), float(t.width[i, cur]), float(t.height[i, cur]))
        ok = t.valid[i, cur:]
        self.route = np.stack([t.x[i, cur:], t.y[i, cur:]], -1)[ok]  # where the log went
        self.progress = 0.0
        self.edges = road_edges_from_scenario([sc])
        self.others = {k: v for k, v in poses.items() if k != self.ego_id}
        self.prev_others = dict(self.others)
        return self._observation(), {"scenario_id": sc.scenario_id, "step": self.sim.step_index}

    def step(self, action):
        a = np.clip(np.asarray(action, np.float64), self.action_space.low, self.action_space.high)
        accel, steer = MAX_ACCEL * float(a[0]), MAX_STEER * float(a[1])
        wheelbase = 0.6 * self.size[0]
        x, y, h = self.ego
        v = float(np.clip(self.speed + accel * STEP_SECONDS, 0.0, 30.0))
        self.yaw_rate = v / wheelbase * np.tan(steer)
        h = h + self.yaw_rate * STEP_SECONDS
        x, y = x + v * np.cos(h) * STEP_SECONDS, y + v * np.sin(h) * STEP_SECONDS
        self.ego, self.speed = np.array([x, y, h]), v
        poses = self.sim.step({self.ego_id: (x, y, h, v)})
        self.prev_others, self.others = self.others, {k: p for k, p in poses.items() if k != self.ego_id}
        gained = self._advance_route()
        collided, offroad = self._collision(), self._offroad()
        reward = gained / 10.0 - float(collided) - float(offroad)
        terminated = collided or offroad
        truncated = self.sim.done or self.sim.step_index >= NUM_STEPS - 1
        info = {
            "step": self.sim.step_index,
            "collision": collided,
            "offroad": offroad,
            "progress_m": self.progress,
        }
        return self._observation(), reward, terminated, truncated, info

    # ---- pieces ---------------------------------------------------------------------------------
    def _local(self, xy: np.ndarray) -> np.ndarray:
        c, s = np.cos(self.ego[2]), np.sin(self.ego[2])
        d = np.asarray(xy, np.float64) - self.ego[:2]
        return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], -1)

    def _advance_route(self) -> float:
        """Progress = arc length of the logged route up to the point nearest the ego (never backwards)."""
        seg = np.hypot(*np.diff(self.route, axis=0).T) if len(self.route) > 1 else np.zeros(0)
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        nearest = int(np.argmin(np.hypot(*(self.route - self.ego[:2]).T)))
        new = max(self.progress, float(arc[nearest]))
        gained, self.progress = new - self.progress, new
        return gained

    def _observation(self) -> np.ndarray:
        obs = np.zeros(OBS_SIZE, np.float32)
        obs[0], obs[1] = self.speed, self.yaw_rate
        step = self.sim.step_index - self.scenario.current_step
        idx = [min(step + 10 * k, len(self.route) - 1) for k in ROUTE_SECONDS]
        obs[2 : 2 + 2 * len(ROUTE_SECONDS)] = self._local(self.route[idx]).reshape(-1)
        if self.others:
            ids = list(self.others)
            pos = np.array([self.others[i][:2] for i in ids])
            prev = np.array([self.prev_others.get(i, self.others[i])[:2] for i in ids])
            rel = self._local(pos)
            dist = np.hypot(rel[:, 0], rel[:, 1])
            order = [j for j in np.argsort(dist, kind="stable") if dist[j] <= NEIGHBOUR_RADIUS][:NEIGHBOURS]
            vel = (pos - prev) / STEP_SECONDS
            c, s = np.cos(self.ego[2]), np.sin(self.ego[2])
            vloc = np.stack([c * vel[:, 0] + s * vel[:, 1], -s * vel[:, 0] + c * vel[:, 1]], -1)
            base = 2 + 2 * len(ROUTE_SECONDS)
            for k, j in enumerate(order):
                obs[base + 5 * k : base + 5 * k + 5] = (*rel[j], *vloc[j], 1.0)
        return np.clip(obs, self.observation_space.low, self.observation_space.high)

    def _boxes(self):
        """[1, N, 1] tensors of every agent's box now, the ego first (sizes from the log at step 10)."""
        t, cur = self.scenario.tracks, self.scenario.current_step
        size = {int(i): (float(t.length[k, cur]), float(t.width[k, cur])) for k, i in enumerate(t.id)}
        ids = [self.ego_id, *self.others]
        pose = np.array([self.ego, *self.others.values()], np.float32)
        lw = np.array([size[i] for i in ids], np.float32)

        def col(v):
            return torch.from_numpy(np.ascontiguousarray(v, np.float32)).reshape(1, -1, 1)

        return col(pose[:, 0]), col(pose[:, 1]), col(pose[:, 2]), col(lw[:, 0]), col(lw[:, 1])

    def _collision(self) -> bool:
        x, y, h, length, width = self._boxes()
        valid = torch.ones_like(x, dtype=torch.bool)
        return bool(distance_to_nearest_object(x, y, h, length, width, valid, num_eval=1)[0, 0, 0] < 0)

    def _offroad(self) -> bool:
        if not bool(self.edges.valid.any()):
            return False  # a scenario without road edges cannot be off them
        f = torch.tensor([[[self.ego[0]]], [[self.ego[1]]], [[0.0]], [[self.ego[2]]]], dtype=torch.float32)
        one = lambda v: torch.full((1, 1, 1), float(v))  # noqa: E731
        d = distance_to_road_edge(f[0][None], f[1][None], one(self._z()), f[3][None], one(self.size[0]),
                                  one(self.size[1]), one(self.size[2]), torch.ones(1, 1, 1, dtype=torch.bool),
                                  self.edges)  # fmt: skip
        return bool(d.reshape(-1)[0] > 0)

    def _z(self) -> float:
        i, cur = self.scenario.sdc_track_index, self.scenario.current_step
        return float(self.scenario.tracks.z[i, cur])
