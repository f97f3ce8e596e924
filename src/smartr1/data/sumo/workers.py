"""Running worlds in spawned worker processes (libsumo is one simulation per process), with retries.

A process that dies without a result (a SUMO crash) costs its world one attempt, and the world
continues with the next attempt seed in a fresh process.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from collections import deque

from smartr1.data.sumo.plan import WorldResult, world_seed
from smartr1.data.sumo.world import WorldError


def run_worlds(target, seed, quotas, out, cfg, workers, on_message) -> list[WorldResult]:
    """Run `target(queue, seed, world, quota, out, cfg, first_attempt, failures)` for every world in its
    own process, at most `workers` at a time; messages from the queue go to `on_message`."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    todo = deque((w, 0, []) for w in range(len(quotas)))  # (world, first attempt, failures so far)
    running: dict[int, tuple] = {}
    attempt = {w: 0 for w in range(len(quotas))}
    results: dict[int, WorldResult] = {}
    errors: dict[int, str] = {}

    def handle(msg) -> None:
        kind, world = msg[0], msg[1]
        if kind == "attempt":
            attempt[world] = msg[2]
        elif kind == "done":
            results[world] = msg[2]
        elif kind == "error":
            errors[world] = msg[2]
        on_message(msg)

    def drain(timeout: float) -> None:
        try:
            handle(q.get(timeout=timeout))
            while True:
                handle(q.get_nowait())
        except queue_mod.Empty:
            pass

    try:
        while todo or running:
            while todo and len(running) < workers and not errors:
                w, first, fails = todo.popleft()
                p = ctx.Process(
                    target=target,
                    args=(q, seed, w, quotas[w], str(out), cfg, first, fails),
                    name=f"smartr1-sumo-world-{w}",
                )
                p.start()
                running[w] = (p, fails)
            drain(0.2)
            for w, (p, fails) in list(running.items()):
                if p.is_alive():
                    continue
                p.join()
                drain(0.5)  # a result put just before exit
                del running[w]
                if w in results or w in errors:
                    continue
                k = attempt[w]
                msg = (
                    f"attempt {k} (world seed {world_seed(seed, w, k)}): worker died (exit code {p.exitcode})"
                )
                fails = [*fails, msg]
                on_message(("retry", w, msg))
                if k + 1 >= cfg.max_attempts:
                    errors[w] = f"world {w}: all {cfg.max_attempts} attempts failed: " + " | ".join(fails)
                else:
                    todo.appendleft((w, k + 1, fails))
            if errors and not running:
                break
    finally:
        for p, _ in running.values():
            p.terminate()
            p.join()
    if errors:
        raise WorldError("; ".join(errors[w] for w in sorted(errors)))
    return [results[w] for w in sorted(results)]
