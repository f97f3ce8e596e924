"""The reactive sim-agents API: free running equals a rollout; driven agents go exactly where told
and enter the model as the tokens of their motion; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smartr1.model.smart import SMART, model_config
from smartr1.rollout.engine import rollout_batch
from smartr1.sim.agents import SimAgents
from smartr1.testing.batches import arc_vocab_poses
from smartr1.testing.tracks import synthetic_scenario
from smartr1.tokens.batch import token_batch
from smartr1.tokens.matching import match_tokens
from smartr1.tokens.vocabulary import MotionVocab


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = model_config("nano", vocab_size=32, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1)
    return SMART(cfg, arc_vocab_poses(32)).eval()


def test_free_running_equals_a_closed_loop_rollout(model):
    vocab = MotionVocab.from_poses(model.vocab_poses)
    sc = synthetic_scenario(seed=3, num_agents=6)
    sim = SimAgents(model, vocab, seed=4)
    first = sim.reset(sc)
    steps = [sim.step() for _ in range(80)]
    assert sim.done and sim.step_index == 90
    batch = token_batch([sc], vocab)
    out = rollout_batch(model, batch, num_rollouts=1, seed=4)
    for j, agent in enumerate(sim.agent_ids):
        want = out.pose[0, 0, j].double().numpy()  # all tracks are sim agents, in track order
        got = np.stack([s[agent] for s in steps])
        np.testing.assert_allclose(got, want, atol=1e-5)
        np.testing.assert_allclose(first[agent][:2], [sc.tracks.x[j, 10], sc.tracks.y[j, 10]], atol=1e-4)
    with pytest.raises(RuntimeError, match="ends at step 90"):
        sim.step()


def test_driven_agent_goes_where_told_and_enters_the_model_as_its_tokens(model):
    vocab = MotionVocab.from_poses(model.vocab_poses)
    sc = synthetic_scenario(seed=5, num_agents=4)
    sim = SimAgents(model, vocab, seed=0)
    start = sim.reset(sc)
    ego = sim.agent_ids[1]
    x, y, h = start[ego]
    path = []
    for _ in range(80):  # a gentle arc at 6 m/s
        h += 0.01
        x, y = x + 0.6 * np.cos(h), y + 0.6 * np.sin(h)
        path.append((x, y, h))
        got = sim.step({ego: (x, y, h, 6.0)})[ego]
        np.testing.assert_allclose(got, [x, y, h], atol=1e-5)  # float32 inside the model
    st = sim._state
    j = sim.agent_ids.index(ego)
    ends = torch.tensor([path[4 + 5 * k] for k in range(16)], dtype=torch.float32)
    starts = torch.cat([st.start[0, j][None], ends[:-1]])
    want = match_tokens(starts, ends, st.scene.agent_class[0, j].expand(16), vocab)
    assert torch.equal(torch.stack(st.tokens, -1)[0, j], want)
    # the model's next-slot input is the driven pose itself, not the token's end pose
    torch.testing.assert_close(st.poses[-1][0, j, -1], ends[-1])


def test_errors(model):
    vocab = MotionVocab.from_poses(model.vocab_poses)
    sim = SimAgents(model, vocab)
    with pytest.raises(RuntimeError, match="reset"):
        sim.step()
    sc = synthetic_scenario(seed=1, num_agents=3)
    sc.tracks.valid[2, :11] = False
    sim.reset(sc)
    assert sim.agent_ids == [100, 101]
    with pytest.raises(KeyError, match="agent 102 is not a sim agent"):
        sim.step({102: (0.0, 0.0, 0.0)})
