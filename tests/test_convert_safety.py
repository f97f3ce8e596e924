"""`smartr1 convert` on hostile and broken input: a pickle that would run code is refused before it
runs, broken pickles / parquets / maps and wrongly shaped arrays give one line naming the file and
the problem, nothing half-written is left behind, and a rerun keeps the shards already finished."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from smartr1.cli.main import app
from smartr1.data.errors import DataError
from smartr1.data.foreign.convert import convert
from smartr1.data.foreign.ids import int_ids
from smartr1.data.foreign.safe_pickle import load_pickle, safe_loads

SCENES = ("data", "foreign", "scenarionet_nuscenes_mini")
AV2 = ("data", "foreign", "av2_motion_forecasting", "0a1e6f0a-1817-4a98-b02e-db8c9327d151")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "sd_evil.pkl"
    bad.write_bytes(pickle.dumps({"tracks": _Exploit(marker)}))
    with pytest.raises(DataError, match=r"sd_evil\.pkl: refused to load global (posix|os)\.system"):
        load_pickle(bad)
    out = tmp_path / "out" / "x.tfrecord"
    with pytest.raises(DataError, match="refused"):
        convert("scenarionet", [bad], out, progress=False)
    assert not marker.exists()  # os.system never ran
    assert not out.exists() and not list(out.parent.glob(".*tmp*"))
    for name in ("builtins.eval", "builtins.getattr", "collections.OrderedDict", "subprocess.Popen"):
        module, attr = name.rsplit(".", 1)
        payload = f"c{module}\n{attr}\n.".encode()  # protocol 0: GLOBAL opcode only
        with pytest.raises(pickle.UnpicklingError, match="refused"):
            safe_loads(payload)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_safe_loader_reads_what_scenarionet_writes(protocol):
    obj = {
        "a": np.arange(6.0).reshape(2, 3),
        "s": np.float64(2.5),
        "o": np.array(["x", None], object),
        "set": {1, 2},
        "b": b"raw",
        "big_endian": np.array([1.0], ">f4"),
    }
    back = safe_loads(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["s"] == 2.5 and back["set"] == {1, 2} and back["b"] == b"raw" and back["o"][0] == "x"


def test_truncated_and_wrongly_shaped_pickles(shared_dir, tmp_path):
    src = sorted(shared_dir.joinpath(*SCENES).glob("sd_*.pkl"))[-1]
    cut = tmp_path / "sd_cut.pkl"
    cut.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(DataError, match=r"sd_cut\.pkl: not a readable pickle"):
        convert("scenarionet", [cut], tmp_path / "o.tfrecord", progress=False)
    d = load_pickle(src)
    key = next(iter(d["tracks"]))
    d["tracks"][key]["state"]["position"] = np.zeros(d["length"])
    odd = tmp_path / "sd_odd.pkl"
    odd.write_bytes(pickle.dumps(d))
    with pytest.raises(DataError, match=rf"sd_odd\.pkl: track '{key}': state 'position' has shape \(\d+,\)"):
        convert("scenarionet", [odd], tmp_path / "o.tfrecord", progress=False)
    not_scene = tmp_path / "sd_list.pkl"
    not_scene.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataError, match="not a ScenarioNet scene"):
        convert("scenarionet", [not_scene], tmp_path / "o.tfrecord", progress=False)
    assert not (tmp_path / "o.tfrecord").exists()


def test_broken_parquet_and_map(shared_dir, tmp_path):
    pytest.importorskip("pyarrow")
    src = shared_dir.joinpath(*AV2)
    for case in ("garbage", "truncated", "columns", "map"):
        d = tmp_path / case
        shutil.copytree(src, d)
        parquet = next(d.glob("scenario_*.parquet"))
        if case == "garbage":
            parquet.write_bytes(b"not a parquet file at all")
        elif case == "truncated":
            parquet.write_bytes(parquet.read_bytes()[:-200])
        elif case == "columns":
            import pyarrow.parquet as pq  # optional dependency, present in the dev extra

            pq.write_table(pq.read_table(parquet).drop_columns(["heading"]), parquet)
        else:
            next(d.glob("log_map_archive_*.json")).write_text('{"lane_segments": ')
        expected = {
            "garbage": r"scenario_.*\.parquet: not a readable parquet file",
            "truncated": r"scenario_.*\.parquet: not a readable parquet file",
            "columns": r"scenario_.*\.parquet: not an AV2 scenario table: missing column\(s\) \['heading'\]",
            "map": r"log_map_archive_.*\.json: not a readable JSON map",
        }[case]
        with pytest.raises(DataError, match=expected):
            convert("av2", [d], tmp_path / "o.tfrecord", progress=False)
    assert not (tmp_path / "o.tfrecord").exists()


def test_nothing_half_written_and_a_rerun_keeps_finished_shards(shared_dir, tmp_path):
    scenes = sorted(shared_dir.joinpath(*SCENES).glob("sd_*.pkl"))[:2]
    src = tmp_path / "src"
    src.mkdir()
    for f in scenes:
        shutil.copy(f, src / f.name)
    (src / "sd_zz_broken.pkl").write_bytes(scenes[0].read_bytes()[:100])
    out = tmp_path / "out" / "ns.tfrecord"
    with pytest.raises(DataError, match="sd_zz_broken.pkl"):
        convert("scenarionet", [src], out, shard_size=2, progress=False)
    written = sorted(p.name for p in out.parent.iterdir())
    first = "ns-00000-of-00002.tfrecord"
    assert written == [f".{first}.done.json", first]  # the complete shard; no partial second one
    (src / "sd_zz_broken.pkl").unlink()
    again = convert("scenarionet", [src], out, shard_size=2, progress=False)
    assert again.shards == [str(out)] and again.scenarios == 4  # 2 files now fit one shard
    before = out.read_bytes()
    kept = convert("scenarionet", [src], out, shard_size=2, progress=False)
    assert kept.kept == [str(out)] and kept.scenes_per_s == 0 and out.read_bytes() == before
    assert not [p for p in out.parent.iterdir() if ".tmp" in p.name]


def test_cli_convert(shared_dir, tmp_path):
    src = sorted(shared_dir.joinpath(*SCENES).glob("sd_*.pkl"))[0]
    out = tmp_path / "one.tfrecord"
    r = CliRunner().invoke(app, ["convert", "--from", "scenarionet", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 scenarionet scene(s) -> 2 scenario(s)" in " ".join(r.output.split())
    bad = CliRunner().invoke(app, ["convert", "--from", "av2", str(tmp_path / "nope"), "--out", str(out)])
    assert isinstance(bad.exception, DataError) and "no such file or directory" in str(bad.exception)


def test_int_ids_keep_numbers_and_number_the_rest():
    assert int_ids(["12", "7", "AV"]) == {"12": 12, "7": 7, "AV": 13}
    assert int_ids(["ego", "a1b2"]) == {"ego": 1, "a1b2": 2}
    assert int_ids(["1", "01"]) == {"1": 1, "01": 2}  # equal values: nothing kept
