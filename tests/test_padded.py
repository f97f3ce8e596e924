import numpy as np
import pytest
import torch

from smartr1.data.errors import DataError
from smartr1.data.padded import collate_scenarios


def test_padding_is_masked_and_values_survive(real_scenarios):
    a, b = real_scenarios["637f20cafde22ff8"], real_scenarios["ee519cf571686d19"]
    batch = collate_scenarios([a, b])
    assert batch.xyz.shape == (2, 257, 91, 3)
    assert batch.agent_mask[0].sum() == 83 and batch.agent_mask[1].all()
    assert not batch.valid[0, 83:].any() and (batch.agent_id[0, 83:] == -1).all()
    np.testing.assert_array_equal(batch.xyz[0, :83, :, 0].numpy(), a.tracks.x)
    np.testing.assert_array_equal(batch.heading[1].numpy(), b.tracks.heading)
    assert batch.map_mask[0].sum() == a.map.num_features
    f = 5
    n = int(a.map.offsets[f + 1] - a.map.offsets[f])
    np.testing.assert_array_equal(batch.map_points[0, f, :n].numpy(), a.map.polyline(f))
    assert not batch.map_point_mask[0, f, n:].any()
    assert batch.signal_mask[0].sum() == int(a.signals.valid.sum()) and not batch.signal_mask[1].any()
    assert batch.predict_mask[1].sum() == len(b.tracks_to_predict)
    moved = batch.to("cpu")
    assert moved.xyz.device == torch.device("cpu") and moved.scenario_id == batch.scenario_id


def test_empty_batch_is_an_error():
    with pytest.raises(DataError, match="empty list"):
        collate_scenarios([])
