"""Running one function over many shards, here or on Ray, resumably.

`run_shards(fn, shards, results_dir)` calls `fn(shard, *args)` for every shard whose result file is
missing, in this process or as Ray tasks (`ray_address`: "auto" / "local" / "ray://host:port" /
"host:port"; None = no Ray), shows a progress bar over shards, writes each result atomically as soon
as it arrives (`<results_dir>/<shard name>.result.pt`, written by the driver, so workers need no
shared output storage) and returns all results in shard order. Ray's Data `read_tfrecords` reads only
`tf.train.Example` records, so WOMD `Scenario` shards are read by our own reader inside the tasks.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from smartr1.data.atomic import atomic_write_bytes


def result_path(results_dir: Path, shard: Path) -> Path:
    return Path(results_dir) / f"{Path(shard).name}.result.pt"


def _save(path: Path, result) -> None:
    buf = io.BytesIO()
    torch.save(result, buf)
    atomic_write_bytes(path, [buf.getvalue()])


def _load(path: Path):
    return torch.load(path, map_location="cpu", weights_only=False)  # our own files


def connect_ray(address: str | None, num_cpus: int | None = None):
    """`ray.init` for an address ("local" starts a private instance; "auto" joins a running cluster)."""
    try:
        import ray  # optional extra (smartr1[ray]), and slow to import: only when asked for
    except ImportError as e:  # pragma: no cover - the extra is installed in tests
        raise RuntimeError("Ray is not installed: pip install 'smartr1[ray]'") from e
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False, "log_to_driver": False}
        if address in (None, "local"):
            ray.init(num_cpus=num_cpus, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    return ray


def run_shards(
    fn: Callable,
    shards: Sequence[Path],
    results_dir: Path,
    args: tuple = (),
    ray_address: str | None = None,
    num_cpus: int | None = None,
    description: str = "shards",
    console=None,
) -> list:
    """Results of `fn(shard, *args)` for every shard, in shard order (see module docstring)."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    shards = [Path(s) for s in shards]
    names = [s.name for s in shards]
    if len(set(names)) != len(names):
        raise ValueError("shard file names must be unique (their results are stored by name)")
    todo = [i for i, s in enumerate(shards) if not result_path(results_dir, s).exists()]
    bar = Progress(TextColumn(f"[bold]{description}[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=False)  # fmt: skip
    with bar:
        task = bar.add_task(description, total=len(shards), completed=len(shards) - len(todo))
        if ray_address is None:
            for i in todo:
                _save(result_path(results_dir, shards[i]), fn(shards[i], *args))
                bar.advance(task)
        elif todo:
            ray = connect_ray(ray_address, num_cpus)
            remote = ray.remote(fn)
            shared = [ray.put(a) for a in args]
            pending = {remote.remote(str(shards[i]), *shared): i for i in todo}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                i = pending.pop(done[0])
                _save(result_path(results_dir, shards[i]), ray.get(done[0]))
                bar.advance(task)
    return [_load(result_path(results_dir, s)) for s in shards]
