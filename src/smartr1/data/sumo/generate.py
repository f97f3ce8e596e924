"""Generate WOMD-format scenarios from random SUMO worlds, in parallel worker processes.

The run is planned from (seed, num) alone: `plan_worlds` splits `num` into per-world quotas and
world w, attempt k, simulates the world seeded by `world_seed(seed, w, k)`. Each world writes its
own shard, so the output does not depend on the number of workers or on scheduling. A world that
fails (SUMO error, gridlock, too few usable SDCs) is retried with its next attempt seed and the
failure is reported; a scenario is never written from a broken world.

A run resumes: each finished shard gets a hidden `.<shard>.done.json` beside it (its `WorldResult`
and the run key it was made under: seed, world, quota and config), written after the shard itself;
a rerun keeps every shard whose record matches its own key and size, and generates the rest. Since a
world's shard depends on that key alone, the resumed output equals an uninterrupted run's byte for
byte. A kill leaves at most hidden temporary files, which the next run that completes removes.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.data.progress import count_bar
from smartr1.data.scenario import AgentType, Scenario
from smartr1.data.sumo.map_extract import extract_map
from smartr1.data.sumo.plan import GenerateConfig, WorldResult, plan_worlds, shard_name, world_seed
from smartr1.data.sumo.record import Recorder
from smartr1.data.sumo.windows import cut_scenario, far_from, sdc_candidates, sdc_order
from smartr1.data.sumo.workers import run_worlds
from smartr1.data.sumo.world import WorldError, build_world, sample_world
from smartr1.data.timeline import CURRENT_STEP, NUM_STEPS
from smartr1.data.womd import write_scenarios


def _report(report, *msg) -> None:
    if report is not None:
        report(msg)


def simulate_world(
    seed: int, world: int, wseed: int, quota: int, cfg: GenerateConfig, report=None, info: dict | None = None
) -> Iterator[Scenario]:
    """Build, warm up and record one world, yielding scenarios until `quota` exist.

    A generator, so that a world's scenarios stream into its shard instead of piling up in memory;
    `info` receives the layout, recorded seconds, teleports and stage timings once it is done.
    """
    info = {} if info is None else info
    t0 = time.perf_counter()
    sec = {}
    per_window = max(1, cfg.sdcs_per_window)
    windows = math.ceil(quota / per_window)
    plan_steps = (windows - 1) * cfg.stride_steps + NUM_STEPS
    max_steps = int(plan_steps * cfg.max_record_factor)
    end_s = cfg.warmup_s + max_steps * 0.1 + 60.0
    with tempfile.TemporaryDirectory(prefix="smartr1-sumo-") as tmp:
        spec = sample_world(wseed, end_s, cfg.size)
        files = build_world(spec, tmp)
        sec["build"] = time.perf_counter() - t0
        t = time.perf_counter()
        rec = Recorder(files, wseed, cfg.warmup_s)
        try:
            sec["warmup"] = time.perf_counter() - t
            if rec.halted_fraction() > cfg.gridlock_halted:
                raise WorldError(f"gridlock after warm-up ({rec.halted_fraction():.0%} of vehicles standing)")
            try:
                wmap = extract_map(files.net, rec.tls_ids)
            except DataError as e:
                raise WorldError(f"unusable network: {e}") from e
            rng = np.random.default_rng([wseed, 3])
            made = 0
            recent: deque[set[int]] = deque(maxlen=max(1, cfg.reuse_gap))
            start, target = 0, plan_steps
            sec["record"] = sec["cut"] = 0.0
            while made < quota:
                if target > max_steps:
                    raise WorldError(
                        f"only {made} of {quota} scenarios in {max_steps / 10:.0f} s recorded "
                        "(too few usable SDCs)"
                    )
                t = time.perf_counter()
                rec.advance(target - rec.num_steps)
                halted = rec.halted_fraction()
                if halted > cfg.gridlock_halted:
                    raise WorldError(f"gridlock at recorded step {rec.num_steps} ({halted:.0%} standing)")
                log = rec.log()
                sec["record"] += time.perf_counter() - t
                t = time.perf_counter()
                while start + NUM_STEPS <= log.num_steps and made < quota:
                    cands = sdc_candidates(log, wmap, start, cfg.window)
                    used = set().union(*recent) if recent else set()
                    count = min(per_window, quota - made)
                    sdcs: list = []
                    for sdc in sdc_order(cands, start, used, rng, cfg.window.sdc_min_motion):
                        if len(sdcs) == count:
                            break
                        if not far_from(sdc, sdcs, start + CURRENT_STEP, cfg.sdc_spread):
                            continue
                        sid = f"sumo-s{seed}-w{world}-{made}"
                        scenario = cut_scenario(log, wmap, start, sdc, sid, cfg.window)
                        if len(scenario.tracks_to_predict) < cfg.window.min_predict:
                            continue  # nothing around this SDC worth predicting
                        sdcs.append(sdc)
                        made += 1
                        sec["cut"] += time.perf_counter() - t
                        yield scenario  # (time spent writing it is not counted as cutting)
                        t = time.perf_counter()
                        _report(report, "cut", world, made)
                    recent.append({a.key for a in sdcs})
                    start += cfg.stride_steps
                sec["cut"] += time.perf_counter() - t
                missing = math.ceil((quota - made) / per_window)
                target = log.num_steps + max(1, missing) * cfg.stride_steps
            info.update(
                layout=spec.layout, recorded_s=rec.num_steps / 10, teleports=rec.teleports, seconds=sec
            )
        finally:
            rec.close()


_COUNTED = (AgentType.VEHICLE, AgentType.PEDESTRIAN, AgentType.CYCLIST)


def _counted(scenarios: Iterator[Scenario], stats: dict) -> Iterator[Scenario]:
    """Pass scenarios through, noting their agent counts in `stats`."""
    for s in scenarios:
        stats["agents"].append(s.tracks.num_agents)
        stats["valid_now"].append(int(s.tracks.valid[:, CURRENT_STEP].sum()))
        for t in _COUNTED:
            stats[t.name.lower()].append(int((s.tracks.type == int(t)).sum()))
        yield s


def generate_world(
    seed: int,
    world: int,
    quota: int,
    out_dir: str | Path,
    cfg: GenerateConfig,
    report=None,
    first_attempt: int = 0,
    failures: list[str] | None = None,
) -> WorldResult:
    """One world's shard, retrying failed worlds with the next attempt seed.

    `first_attempt`/`failures` continue a world whose worker process died in an earlier attempt.
    """
    failures = list(failures or [])
    t0 = time.perf_counter()
    for attempt in range(first_attempt, cfg.max_attempts):
        wseed = world_seed(seed, world, attempt)
        _report(report, "attempt", world, attempt)
        if cfg.inject_crash == (world, attempt):
            os._exit(70)  # fault injection for tests: a hard crash, as a SUMO segfault would be
        info: dict = {}
        stats = {"agents": [], "valid_now": [], **{t.name.lower(): [] for t in _COUNTED}}

        path = Path(out_dir) / shard_name(seed, world)
        try:
            # Atomic: a world that fails half-way leaves no shard behind.
            n = write_scenarios(
                path, _counted(simulate_world(seed, world, wseed, quota, cfg, report, info), stats)
            )
        except WorldError as e:
            failures.append(f"attempt {attempt} (world seed {wseed}): {e}")
            _report(report, "retry", world, failures[-1])
            continue
        sec = info["seconds"]
        sec["write"] = time.perf_counter() - t0 - sum(sec.values())  # proto conversion + I/O (+ retries)
        sec["total"] = time.perf_counter() - t0
        return WorldResult(
            world=world,
            world_seed=wseed,
            layout=info["layout"],
            scenarios=n,
            path=str(path),
            failures=failures,
            seconds={k: round(v, 3) for k, v in info["seconds"].items()},
            recorded_s=info["recorded_s"],
            teleports=info["teleports"],
            agents=stats["agents"],
            valid_now=stats["valid_now"],
            by_type={t.name.lower(): stats[t.name.lower()] for t in _COUNTED},
        )
    raise WorldError(f"world {world}: all {cfg.max_attempts} attempts failed: " + " | ".join(failures))


DONE_FORMAT = 1


def _done_path(out_dir: str | Path, seed: int, world: int) -> Path:
    return Path(out_dir) / f".{shard_name(seed, world)}.done.json"


def _run_key(seed: int, world: int, quota: int, cfg: GenerateConfig) -> dict:
    """Everything a world's shard depends on (JSON-normalised, so a stored key compares equal)."""
    key = dict(format=DONE_FORMAT, seed=seed, world=world, quota=quota, cfg=asdict(cfg))
    return json.loads(json.dumps(key))


def _mark_done(out_dir, seed: int, world: int, quota: int, cfg: GenerateConfig, r: WorldResult) -> None:
    record = dict(key=_run_key(seed, world, quota, cfg), bytes=Path(r.path).stat().st_size, result=asdict(r))
    atomic_write_bytes(_done_path(out_dir, seed, world), [json.dumps(record).encode()])


def finished_world(out_dir, seed: int, world: int, quota: int, cfg: GenerateConfig) -> WorldResult | None:
    """The result of this world's shard if an earlier run with the same key finished it, else None."""
    path = Path(out_dir) / shard_name(seed, world)
    try:
        record = json.loads(_done_path(out_dir, seed, world).read_text())
        if record["key"] != _run_key(seed, world, quota, cfg) or record["bytes"] != path.stat().st_size:
            return None
        return WorldResult(**{**record["result"], "path": str(path)})
    except (OSError, ValueError, KeyError, TypeError):  # no record, no shard, or an unreadable record
        return None


def _world_process(q, seed, world, quota, out_dir, cfg, first_attempt, failures) -> None:
    """Body of one world's worker process: everything goes back through the queue."""
    try:
        r = finished_world(out_dir, seed, world, quota, cfg)
        if r is not None:
            q.put(("kept", world, quota))
        else:
            r = generate_world(seed, world, quota, out_dir, cfg, q.put, first_attempt, failures)
            _mark_done(out_dir, seed, world, quota, cfg, r)  # after the shard: a kill between redoes it
        q.put(("done", world, r))
    except Exception as e:  # a world that failed every attempt, or a bug: report, never hang
        q.put(("error", world, f"{type(e).__name__}: {e}"))


@dataclass
class GenerateSummary:
    seed: int
    num: int
    workers: int
    seconds: float
    scenarios_per_s: float
    worlds: list[WorldResult]
    removed_stale: list[str]
    machine: dict
    kept: list[int] = field(default_factory=list)  # worlds whose shards an earlier run had finished

    def to_json(self) -> dict:
        return asdict(self)


def generate(
    num: int,
    out: str | Path,
    seed: int = 0,
    workers: int | None = None,
    cfg: GenerateConfig | None = None,
    progress: bool = True,
    console=None,
) -> GenerateSummary:
    """Write `num` scenarios as WOMD TFRecord shards into `out` (one shard per world).

    Shards an earlier run with the same seed, quota and config finished are kept (see the module
    docstring); the summary lists them in `kept`.
    """
    cfg = cfg or GenerateConfig()
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    quotas = plan_worlds(num, cfg)
    workers = max(1, min(workers or (os.cpu_count() or 1), len(quotas)))
    t0 = time.perf_counter()
    done = {w: 0 for w in range(len(quotas))}
    kept: list[int] = []
    bar = count_bar("generate", "scenarios", console, progress)
    with bar:
        task = bar.add_task("generate", total=num, note="")

        def on_message(msg) -> None:
            kind, world = msg[0], msg[1]
            if kind in ("cut", "kept"):
                done[world] = msg[2]
                if kind == "kept":
                    kept.append(world)
            elif kind == "retry":
                done[world] = 0
                bar.console.print(f"[yellow]world {world} failed, retrying:[/] {msg[2]}")
            elif kind == "error":
                bar.console.print(f"[red]world {world} failed:[/] {msg[2]}")
            bar.update(task, completed=sum(done.values()))

        results = run_worlds(_world_process, seed, quotas, out, cfg, workers, on_message)
        bar.update(task, completed=num, note=f"{num / (time.perf_counter() - t0):.2f} scenarios/s")
    seconds = time.perf_counter() - t0
    keep = {shard_name(seed, w) for w in range(len(quotas))}
    stale = sorted(p.name for p in out.glob(f"sumo-s{seed}-w*.tfrecord") if p.name not in keep)
    for name in stale:  # shards of an earlier, larger run with this seed would mix into the data set
        (out / name).unlink()
        (out / f".{name}.done.json").unlink(missing_ok=True)
    # Temporary files of a killed earlier run (no worker of this run is left to write one).
    for tmp in [*out.glob(f".sumo-s{seed}-w*.tmp.*"), *out.glob(f".sumo-s{seed}.generate.json.*.tmp.*")]:
        tmp.unlink(missing_ok=True)
    summary = GenerateSummary(
        seed=seed,
        num=num,
        workers=workers,
        seconds=round(seconds, 3),
        scenarios_per_s=round(num / seconds, 4),
        worlds=results,
        removed_stale=stale,
        machine=dict(cpu_count=os.cpu_count(), platform=platform.platform()),
        kept=sorted(kept),
    )
    # Hidden, so that readers globbing `out/*` or listing the directory see only shards.
    atomic_write_bytes(
        out / f".sumo-s{seed}.generate.json", [json.dumps(summary.to_json(), indent=1).encode()]
    )
    return summary
