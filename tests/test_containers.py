"""Checked containers: `Scenario`, `TokenBatch` and `RolloutState` are frozen, and `validate()` names the
field, the expected and the actual shape when one is wrong (at the readers, `collate` and `reset`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import MapFeatures, Scenario, SignalStates, Tracks
from smartr1.data.shapes import field_specs
from smartr1.model.smart import SMART, model_config
from smartr1.rollout.session import RolloutScene, RolloutSession, RolloutState
from smartr1.testing.batches import arc_vocab_poses, pad_agents, random_scene_batch
from smartr1.testing.tracks import synthetic_scenario
from smartr1.tokens.batch import AgentBatch, MapBatch, TokenBatch, collate
from smartr1.tokens.scene import prepare_scene
from smartr1.tokens.vocabulary import MotionVocab

CHECKED = (
    Tracks,
    MapFeatures,
    SignalStates,
    Scenario,
    AgentBatch,
    MapBatch,
    TokenBatch,
    RolloutScene,
    RolloutState,
)


def _tracks(s: Scenario, **changes) -> Scenario:
    return dataclasses.replace(s, tracks=dataclasses.replace(s.tracks, **changes))


def test_every_array_field_is_documented_with_its_shape():
    for cls in CHECKED:
        field_specs(cls)  # raises TypeError for an array field without a docstring line
    assert [(f.name, f.dims, f.kind) for f in field_specs(MapFeatures)][3:5] == [
        ("points", (("P", 0), 3), "float"),
        ("offsets", (("F", 1),), "int"),
    ]

    @dataclasses.dataclass(frozen=True)
    class Undocumented:
        """x  [A]  float  documented"""

        x: np.ndarray
        y: np.ndarray

    with pytest.raises(TypeError, match="Undocumented.y: array field without"):
        field_specs(Undocumented)


def test_scenario_validate_names_the_field_and_the_shapes():
    s = synthetic_scenario(0, num_agents=5, scenario_id="bad")
    assert s.validate() is s
    short = _tracks(s, x=s.tracks.x[:, :90])
    with pytest.raises(DataError, match=r"'bad': tracks\.x: expected shape \[A=5, T=91\], got \(5, 90\)"):
        short.validate("f.tfrecord", 3)
    with pytest.raises(DataError, match=r"^f\.tfrecord, record 3: "):
        short.validate("f.tfrecord", 3)
    with pytest.raises(DataError, match=r"tracks\.valid: expected dtype bool, got int64"):
        _tracks(s, valid=s.tracks.valid.astype(np.int64)).validate()
    with pytest.raises(DataError, match=r"timestamps: expected shape \[T=91\], got \(80,\)"):
        dataclasses.replace(s, timestamps=s.timestamps[:80]).validate()
    dataclasses.replace(s, timestamps=np.zeros(0)).validate()  # a source without timestamps
    m = s.map
    with pytest.raises(DataError, match=r"map\.offsets: expected shape \[F\+1=\d+\]"):
        dataclasses.replace(s, map=dataclasses.replace(m, offsets=m.offsets[:-1])).validate()
    with pytest.raises(DataError, match=r"map\.offsets: expected 0, non-decreasing, ending at P="):
        dataclasses.replace(s, map=dataclasses.replace(m, offsets=m.offsets + 1)).validate()
    with pytest.raises(DataError, match=r"tracks_to_predict: expected indices into the A=5 tracks"):
        dataclasses.replace(
            s, tracks_to_predict=np.array([7]), tracks_to_predict_difficulty=np.zeros(1, np.int8)
        ).validate()
    with pytest.raises(DataError, match=r"tracks_to_predict_difficulty: expected shape \[K=\d\]"):
        dataclasses.replace(s, tracks_to_predict_difficulty=np.zeros(9, np.int8)).validate()


def test_containers_are_frozen():
    s = synthetic_scenario(0, num_agents=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.tracks = s.tracks
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.tracks.x = s.tracks.x
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.map.points = s.map.points
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.signals.valid = s.signals.valid
    s.tracks.x[0, 0] = 1.5  # the arrays inside stay writable
    b = random_scene_batch(1, 3, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.agents = b.agents
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.agents.token = b.agents.token
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.map.mask = b.map.mask
    state = _reset(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.slot = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.scene.row = state.scene.row


def test_token_batch_validate_names_the_field_and_the_shapes():
    b = random_scene_batch(2, 9, 7)
    with pytest.raises(
        ValueError, match=r"TokenBatch\.agents\.token: expected shape \[B=2, A=9, 18\], got \(2, 9, 17\)"
    ):
        b.with_agents(token=b.agents.token[..., :17]).validate()
    with pytest.raises(
        ValueError, match=r"TokenBatch\.agents\.id: expected shape \[B=3, A=9\], got \(2, 9\)"
    ):
        dataclasses.replace(b, scenario_id=["a", "b", "c"]).validate()
    with pytest.raises(
        ValueError, match=r"TokenBatch\.map\.points: expected shape \[B=2, M=7, 11, 2\], got \(2, 6, 11, 2\)"
    ):
        b.with_map(points=b.map.points[:, :6]).validate()
    with pytest.raises(ValueError, match=r"TokenBatch\.map\.mask: expected dtype bool, got torch\.int64"):
        b.with_map(mask=b.map.mask.long()).validate()
    with pytest.raises(ValueError, match=r"TokenBatch\.agents\.pose: expected dtype float, got torch\.int64"):
        b.with_agents(pose=b.agents.pose.long()).validate()
    pad_agents(b, 1, 6).validate()
    b.agents.sim_mask[1, 7] = True  # a padded agent that is still simulated
    with pytest.raises(
        ValueError,
        match=r"TokenBatch\.agents\.sim_mask: expected False at padded agents .* scene 1, column 7",
    ):
        b.validate()
    b.agents.sim_mask[1, 7] = False
    b.agents.token[1, 8, 4] = 3
    with pytest.raises(
        ValueError, match=r"TokenBatch\.agents\.token: expected -1 at padded agents .* scene 1, column 8"
    ):
        b.validate()


def test_collate_validates_what_it_builds():
    vocab = MotionVocab.from_poses(arc_vocab_poses(16))
    scene = prepare_scene(synthetic_scenario(0, 4), vocab)
    assert collate([scene, scene]).num_scenes == 2
    broken = scene._replace(
        agents=dataclasses.replace(scene.agents, pose_valid=scene.agents.pose_valid[:, :18])
    )
    with pytest.raises(ValueError, match=r"TokenBatch\.agents\.pose_valid: expected shape \[B=1, A=4, 19\]"):
        collate([broken])


def _reset(batch: TokenBatch) -> RolloutState:
    torch.manual_seed(0)
    cfg = model_config("nano", vocab_size=16, hidden=16, heads=2, head_dim=8, agent_layers=1, map_layers=1)
    with torch.no_grad():
        return RolloutSession(SMART(cfg, arc_vocab_poses(16)).eval(), num_rollouts=2).reset(batch)


def test_reset_validates_its_batch_and_state():
    b = random_scene_batch(2, 5, 6, arc_vocab_poses(16))
    state = _reset(b)
    assert state.validate() is state and state.logits.shape == (4, 5, 16)
    with pytest.raises(
        ValueError, match=r"RolloutState\.pose: expected shape \[N=4, A'=5, 3\], got \(4, 4, 3\)"
    ):
        dataclasses.replace(state, pose=state.pose[:, :4]).validate()
    with pytest.raises(
        ValueError, match=r"RolloutState\.tokens / poses: expected 0 each at slot 2, got 1 / 0"
    ):
        dataclasses.replace(state, tokens=[state.pose[..., 0].long()]).validate()
    with pytest.raises(ValueError, match=r"RolloutScene\.sim: expected dtype bool"):
        dataclasses.replace(
            state, scene=dataclasses.replace(state.scene, sim=state.scene.sim.long())
        ).validate()
    b.agents.mask[0, 4] = False  # padding that is still a simulated agent
    with pytest.raises(
        ValueError, match=r"TokenBatch\.agents\.token: expected -1 at padded agents .* scene 0, column 4"
    ):
        _reset(b)
