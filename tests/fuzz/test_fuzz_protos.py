"""Scenario protos, submission protos and checkpoints under random bytes, flipped bits and
truncation: a `DataError` naming the input, or accepted (a mutation can still decode to a valid
message), never another exception, a hang or a large allocation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smartr1.data.errors import DataError
from smartr1.data.womd import parse_scenario
from smartr1.metrics.binproto import parse_binproto
from smartr1.model.checkpoint import load_model
from tests.fuzz.harness import (
    ALLOC_LIMIT,
    budgets,
    flip_bits,
    fuzz_settings,
    offsets,
    peak_allocation,
    run_case,
)

SCEN, SUB, CKPT = "scenario proto reader", "submission proto reader", "checkpoint loader"


def _scenario(payload):
    return parse_scenario(payload, "fuzz.tfrecord", 0)


def _submission(payload):
    return parse_binproto(payload, "fuzz.binproto")


@budgets(ci=60, long=3000)
def test_random_bytes(tmp_path, budget):
    ckpt = tmp_path / "random.pt"

    @fuzz_settings(budget)
    @given(st.binary(max_size=4096))
    def case(raw):
        run_case(SCEN, "random bytes", _scenario, raw)
        run_case(SUB, "random bytes", _submission, raw)
        ckpt.write_bytes(raw)
        out = run_case(CKPT, "random bytes", load_model, ckpt)
        assert isinstance(out, DataError) and str(ckpt) in str(out)

    case()


@budgets(ci=60, long=3000)
def test_flipped_bits(tmp_path, small, budget):
    ckpt_raw = small.checkpoint.read_bytes()
    ckpt = tmp_path / "flipped.pt"

    @fuzz_settings(budget)
    @given(st.lists(st.integers(0, 8 * 1_000_000), min_size=1, max_size=8))
    def case(bits):
        run_case(SCEN, "flipped bits", _scenario, flip_bits(small.payload, bits))
        run_case(SUB, "flipped bits", _submission, flip_bits(small.few, bits))
        ckpt.write_bytes(flip_bits(ckpt_raw, bits))
        run_case(CKPT, "flipped bits", load_model, ckpt)

    case()


@budgets(ci=97, long=1)  # step between cut points; 1 = every offset
def test_truncated_at_every_offset(tmp_path, small, budget):
    for n in offsets(len(small.payload), budget):
        out, peak = peak_allocation(lambda n=n: run_case(SCEN, "truncated", _scenario, small.payload[:n]))
        assert peak < ALLOC_LIMIT
    for n in offsets(len(small.few), budget):
        run_case(SUB, "truncated", _submission, small.few[:n])
    raw = small.checkpoint.read_bytes()
    ckpt = tmp_path / "cut.pt"
    for n in offsets(len(raw), budget * 8):
        ckpt.write_bytes(raw[:n])
        out = run_case(CKPT, "truncated", load_model, ckpt)
        assert isinstance(out, DataError), f"a checkpoint cut at {n} of {len(raw)} bytes loaded"


def test_absurd_model_config_is_a_data_error(tmp_path, small):
    """Found by the long run: a flipped bit set head_dim to 0 and the loader died in `0 ** -0.5`."""
    import pytest
    import torch

    ckpt = torch.load(small.checkpoint, weights_only=False)
    for key, value in [("head_dim", 0), ("hidden", -4), ("heads", 10**12)]:
        bad = {
            **ckpt,
            "smartr1": {**ckpt["smartr1"], "model_config": {**ckpt["smartr1"]["model_config"], key: value}},
        }
        path = tmp_path / f"{key}.pt"
        torch.save(bad, path)
        with pytest.raises(DataError, match=str(path)):
            load_model(path)
