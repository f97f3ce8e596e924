"""The Gymnasium environment: the API contract (check_env), the ego follows its bicycle model,
collisions and offroad end the episode, and a seed reproduces an episode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from smartr1.model.smart import SMART, model_config
from smartr1.sim import ENV_ID
from smartr1.sim.agents import SimAgents
from smartr1.testing.batches import arc_vocab_poses
from smartr1.tokens.vocabulary import MotionVocab


@pytest.fixture(scope="module")
def sim():
    torch.manual_seed(0)
    cfg = model_config("nano", vocab_size=32, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1)
    m = SMART(cfg, arc_vocab_poses(32)).eval()
    return SimAgents(m, MotionVocab.from_poses(m.vocab_poses))


def test_check_env_passes_and_the_id_is_registered(real_scenarios, sim):
    env = gym.make(ENV_ID, scenarios=list(real_scenarios.values()), sim_agents=sim).unwrapped
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and info["step"] == 10


def test_ego_follows_the_bicycle_model_and_episodes_reproduce(real_scenarios, sim):
    from smartr1.sim.env import SimAgentsEnv

    env = SimAgentsEnv(list(real_scenarios.values()), sim_agents=sim)
    obs, _ = env.reset(seed=3, options={"scenario": 0})
    x0, y0, h0 = env.ego
    v0 = env.speed
    obs, r, term, trunc, info = env.step(np.array([0.25, 0.0], np.float32))  # 1 m/s^2
    v1 = v0 + 0.1
    np.testing.assert_allclose(
        env.ego, [x0 + v1 * np.cos(h0) * 0.1, y0 + v1 * np.sin(h0) * 0.1, h0], atol=1e-9
    )
    assert info["step"] == 11 and obs[0] == pytest.approx(v1, rel=1e-6)
    # the same seed gives the same traffic
    runs = []
    for _ in range(2):
        env.reset(seed=5, options={"scenario": 1})
        runs.append([env.step(np.zeros(2, np.float32))[0] for _ in range(12)])
    np.testing.assert_array_equal(np.array(runs[0]), np.array(runs[1]))


def test_collision_and_offroad_terminate(real_scenarios, sim):
    from smartr1.sim.env import SimAgentsEnv

    env = SimAgentsEnv(list(real_scenarios.values()), sim_agents=sim)
    env.reset(seed=0, options={"scenario": 0})
    other = next(iter(env.others.values()))
    env.ego = np.array(other, np.float64)  # put the ego on top of another agent
    _, r, term, _, info = env.step(np.zeros(2, np.float32))
    assert info["collision"] and term and r < -0.9
    # a straight road between two edges (the road on each edge's left), y in [-5, 5]
    from smartr1.sim.env import SimAgentsEnv as Env
    from smartr1.testing.scenes import make_scenario

    xs = np.linspace(-200, 200, 401)
    road = make_scenario(
        np.array([np.linspace(-10, 10, 91), np.linspace(30, 50, 91)]), np.zeros((2, 91)), 0.0,
        road_edges=[np.stack([xs, np.full_like(xs, -5.0)], 1), np.stack([xs[::-1], np.full_like(xs, 5.0)], 1)],
    )  # fmt: skip
    env = Env([road], sim_agents=sim)
    env.reset(seed=0)
    _, _, term, _, info = env.step(np.zeros(2, np.float32))
    assert not info["offroad"] and not term
    env.ego = np.array([env.ego[0], 9.0, 0.0])  # beyond the left edge
    _, r, term, _, info = env.step(np.zeros(2, np.float32))
    assert info["offroad"] and term and not info["collision"] and r < -0.9
