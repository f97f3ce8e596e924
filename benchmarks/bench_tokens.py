"""Motion / map tokenizers: vocabulary build time, tokenization speed, and what the vocabulary costs.

(a) Vocab build time (k-disk, per size) from synthetic smooth scenes, SUMO-generated scenes and the
    two real WOMD scenarios; the greedy-cover pass is timed against a plain full-scan pass at the
    same radius (the baseline; identical disks).
(b) Tokenization speed (motion + map, scenarios/s) on the real scenarios, with the exact prefiltered
    token search against brute force over the whole vocabulary (the baseline; identical tokens).
(c) Quality on the two real scenarios: tokenization error (per-agent ADE of the detokenized vs the
    logged track over logged-valid steps; mean and p95 per class) and the WOSAC 2025 realism
    meta-metric of the tokenized logged futures (32 identical rollouts) against the logged oracle:
    - "vocab only": logged z, raw logged values at invalid steps (as the official oracle), so only
      x / y / heading at valid steps differ from the oracle;
    - "policy-like": z held at step 10, invalid steps completed by interpolation / constant velocity.
    Vocabularies: in-sample (both real scenes), leave-one-out (built from the other real scene),
    synthetic and SUMO-generated (out of sample).

Writes benchmarks/results/tokens.json and tokens.md.

    .venv/bin/python benchmarks/bench_tokens.py [--synthetic 300] [--sumo 60] [--sumo-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from common import SHARED, machine, write_results

WOSAC = SHARED / "data" / "wosac"
SIZES = (128, 256, 512, 1024, 2048)


def load_real():
    from smartr1.data.womd import read_scenario

    files = sorted((WOSAC / "scenarios").glob("*.tfrecord"))
    if not files:
        raise SystemExit(f"no WOMD scenarios in {WOSAC / 'scenarios'}")
    return [read_scenario(f) for f in files]


def load_sumo(num: int, sumo_dir: str | None) -> tuple[list, dict]:
    from smartr1.data.womd import read_scenarios

    if sumo_dir:
        scs = list(read_scenarios(sumo_dir, skip_bad=True))
        return scs, {"source": sumo_dir, "scenarios": len(scs)}
    if num <= 0:
        return [], {"skipped": "--sumo 0"}
    from smartr1.data.sumo.generate import generate

    out = Path(tempfile.mkdtemp(prefix="bench-tokens-sumo-"))
    t = time.perf_counter()
    try:
        generate(num, out, seed=0, workers=2, progress=False)
    except Exception as e:  # noqa: BLE001 - the benchmark still runs without generated data
        return [], {"skipped": f"generation failed: {type(e).__name__}: {e}"}
    scs = list(read_scenarios(out, skip_bad=True))
    return scs, {
        "source": "generated",
        "scenarios": len(scs),
        "generate_s": round(time.perf_counter() - t, 1),
    }


def oracle_rollouts(real):
    from smartr1.data.rollouts import Rollouts

    out = {}
    for s in real:
        d = np.load(WOSAC / s.scenario_id / "submission_logged_oracle.npz")
        out[s.scenario_id] = Rollouts(s.scenario_id, d["object_id"], d["x"], d["y"], d["z"], d["heading"])
    return out


def meta(scenarios, rollouts_by_id) -> dict:
    from smartr1.metrics.scoring import evaluate_rollouts

    r = evaluate_rollouts(scenarios, rollouts_by_id)
    return {
        "meta": r.buckets["realism_meta_metric"],
        "kinematic": r.buckets["kinematic_metrics"],
        "interactive": r.buckets["interactive_metrics"],
        "map": r.buckets["map_based_metrics"],
        "per_scenario": {k: v["metametric"] for k, v in r.scenarios.items()},
    }


def bench_greedy_baseline(scenarios, size: int) -> dict:
    """Sorted-window greedy cover vs a plain full scan per disk, at the radius build_vocab found."""
    import torch

    from smartr1.data.geometry import box_corners
    from smartr1.tokens.kdisk import greedy_cover, kdisk_cluster
    from smartr1.tokens.vocab_build import extract_segments
    from smartr1.tokens.vocabulary import CLASS_BOX

    seg = torch.cat([extract_segments(s)[0] for s in scenarios])[:200_000]
    feat = box_corners(seg[:, -1], CLASS_BOX[0, 0], CLASS_BOX[0, 1]).numpy()
    zero = box_corners(torch.zeros(3), CLASS_BOX[0, 0], CLASS_BOX[0, 1]).numpy()
    tol = kdisk_cluster(feat, size - 1, 0.995, first_centre=zero).tol
    order = np.random.default_rng(0).permutation(len(feat))
    t = time.perf_counter()
    fast, _ = greedy_cover(feat, order, size - 1, tol, zero)
    t_fast = time.perf_counter() - t

    def dist(a, c):
        return np.sqrt(((a - c) ** 2).sum(-1)).mean(-1)

    t = time.perf_counter()
    free = dist(feat, zero) > tol
    naive = []
    for i in order:
        if len(naive) == size - 1:
            break
        if free[i]:
            inside = free & (dist(feat, feat[i]) <= tol)
            naive.append(np.flatnonzero(inside))
            free &= ~inside
    t_naive = time.perf_counter() - t
    same = len(naive) == len(fast) and all(
        set(a.tolist()) == set(b.tolist()) for a, b in zip(naive, fast, strict=True)
    )
    return {
        "segments": len(feat),
        "disks": len(fast),
        "tol_m": tol,
        "sorted_window_s": t_fast,
        "full_scan_s": t_naive,
        "speedup": t_naive / t_fast,
        "identical": same,
    }


def bench_tokenize(real, vocab, repeats: int) -> dict:
    """Scenarios/s of prepare_scene (motion + map) with 1 torch thread (as the token cache runs it) and
    the default thread count; the 1-thread run is also done with brute-force token search."""
    import torch

    from smartr1.data.threads import torch_threads
    from smartr1.tokens import tokenize
    from smartr1.tokens.scene import prepare_scene
    from smartr1.tokens.tokenize import tokenize_scenario

    def run():
        t = time.perf_counter()
        for _ in range(repeats):
            for s in real:
                prepare_scene(s, vocab)
        return len(real) * repeats / (time.perf_counter() - t)

    default = run()
    with torch_threads(1):
        fast = run()
        toks = [tokenize_scenario(s, vocab).token for s in real]
        orig = tokenize.match_tokens

        def brute(*a, **k):
            return orig(*a, **{**k, "exact_search": True})

        tokenize.match_tokens = brute  # the name tokenize_scenario looks up
        try:
            slow = run()
            same = all(
                torch.equal(tokenize_scenario(s, vocab).token, t) for s, t in zip(real, toks, strict=True)
            )
        finally:
            tokenize.match_tokens = orig
    return {
        "vocab_size": vocab.size,
        "scenarios_per_s": fast,
        "brute_force_scenarios_per_s": slow,
        "speedup": fast / slow,
        "identical_tokens": bool(same),
        "default_threads": torch.get_num_threads(),
        "default_threads_scenarios_per_s": default,
    }


def quality(
    real, vocab, oracle_meta: dict, eval_ids: list[str] | None = None, policy_like: bool = False
) -> dict:
    from smartr1.tokens.quality import error_summary, tokenized_log_rollouts

    scs = [s for s in real if eval_ids is None or s.scenario_id in eval_ids]
    out = {"error": error_summary(scs, vocab)}
    ro = {s.scenario_id: tokenized_log_rollouts(s, vocab, z="logged", invalid="raw") for s in scs}
    m = meta(scs, ro)
    ref = float(np.mean([oracle_meta[s.scenario_id] for s in scs]))
    out["vocab_only"] = {**m, "oracle_meta": ref, "loss": ref - m["meta"]}
    if policy_like:
        ro = {s.scenario_id: tokenized_log_rollouts(s, vocab) for s in scs}
        m = meta(scs, ro)
        out["policy_like"] = {**m, "oracle_meta": ref, "loss": ref - m["meta"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--synthetic", type=int, default=300, help="synthetic scenes (30 agents) for vocab building"
    )
    ap.add_argument("--sumo", type=int, default=60, help="SUMO scenes to generate (0: skip)")
    ap.add_argument("--sumo-dir", default=None, help="use existing generated shards instead")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    from smartr1.testing.tracks import synthetic_scenario
    from smartr1.tokens.vocab_build import build_vocab

    result: dict = {"machine": machine(), "sizes": sizes}
    real = load_real()
    oracle_meta = {
        s.scenario_id: json.loads((WOSAC / s.scenario_id / "metrics_logged_oracle.json").read_text())[
            "metrics"
        ]["metametric"]
        for s in real
    }
    check = meta(real, oracle_rollouts(real))
    result["oracle"] = {
        "official": oracle_meta,
        "ours": check["per_scenario"],
        "mean": float(np.mean(list(oracle_meta.values()))),
    }
    print(
        f"logged oracle meta (official) {result['oracle']['mean']:.4f}; ours {check['meta']:.4f}", flush=True
    )

    synth = [synthetic_scenario(i, 30) for i in range(args.synthetic)]
    sumo, sumo_info = load_sumo(args.sumo, args.sumo_dir)
    result["data"] = {"real": len(real), "synthetic": len(synth), "sumo": sumo_info}
    print("data:", result["data"], flush=True)
    sources = {"real in-sample": real, "synthetic": synth}
    if sumo:
        sources["sumo"] = sumo

    builds, qual = [], []
    for name, data in sources.items():
        for size in sizes:
            stats: dict = {}
            t = time.perf_counter()
            vocab = build_vocab(data, size=size, stats=stats)
            bt = time.perf_counter() - t
            q = quality(real, vocab, oracle_meta, policy_like=size in (512, 2048))
            builds.append({"source": name, "size": size, "scenarios": len(data), "build_s": bt,
                           "classes": stats["classes"], "hash": vocab.hash})  # fmt: skip
            qual.append({"source": name, "size": size, **q})
            e, v = q["error"], q["vocab_only"]
            print(f"{name:15s} V={size:5d} build {bt:6.1f}s  ADE veh {e['vehicle']['ade_mean']:.3f}/"
                  f"{e['vehicle']['ade_p95']:.3f} ped {e['pedestrian']['ade_mean']:.3f}/{e['pedestrian']['ade_p95']:.3f}"
                  f"  meta {v['meta']:.4f} (loss {v['loss']:.4f})", flush=True)  # fmt: skip
    # leave-one-out on the real scenes
    for size in sizes:
        for i, s in enumerate(real):
            other = real[1 - i]
            vocab = build_vocab([other], size=size)
            q = quality(real, vocab, oracle_meta, eval_ids=[s.scenario_id])
            qual.append({"source": f"real leave-one-out (built from {other.scenario_id})", "size": size,
                         "eval": s.scenario_id, **q})  # fmt: skip
            print(f"LOO V={size:5d} -> {s.scenario_id}: ADE all {q['error']['all']['ade_mean']:.3f} "
                  f"meta loss {q['vocab_only']['loss']:.4f}", flush=True)  # fmt: skip
    result["builds"], result["quality"] = builds, qual

    result["greedy_cover_vs_full_scan"] = bench_greedy_baseline(synth, 512)
    print("greedy cover:", result["greedy_cover_vs_full_scan"], flush=True)
    result["tokenize"] = [bench_tokenize(real, build_vocab(real, size=s), args.repeats) for s in (512, 2048)]
    print("tokenize:", result["tokenize"], flush=True)

    write_results("tokens", result, to_markdown(result))
    print("wrote benchmarks/results/tokens.json and tokens.md")


def to_markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Motion / map tokenizer benchmark",
        "",
        f"Machine: {m['cpu_count']} CPUs, {m['platform']}, torch {m['torch']} ({m['device']}, "
        f"{m['torch_threads']} threads), load average {m['loadavg_1min_start']:.1f} at start.",
        f"Data: {r['data']['real']} real WOMD scenes, {r['data']['synthetic']} synthetic scenes, SUMO: {r['data']['sumo']}.",
        f"Logged oracle meta-metric (official, mean of the 2 scenes): {r['oracle']['mean']:.4f}; "
        f"ours on the oracle submission: {np.mean(list(r['oracle']['ours'].values())):.4f}.",
        "",
        "## Vocabulary build",
        "",
        "| source | V | scenes | build s | vehicle segments | vehicle disk radius m | data / prior tokens (veh, ped, cyc) |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in r["builds"]:
        c = b["classes"]
        toks = ", ".join(
            f"{c[k]['data_tokens']}/{c[k]['prior_tokens']}" for k in ("vehicle", "pedestrian", "cyclist")
        )
        lines.append(f"| {b['source']} | {b['size']} | {b['scenarios']} | {b['build_s']:.1f} | "
                     f"{c['vehicle']['segments']} | {c['vehicle']['tol_m']:.3f} | {toks} |")  # fmt: skip
    g = r["greedy_cover_vs_full_scan"]
    lines += [
        "",
        f"Greedy cover pass (V=512, {g['segments']} vehicle segments, radius {g['tol_m']:.3f} m): sorted window "
        f"{g['sorted_window_s']:.3f} s vs full scan {g['full_scan_s']:.3f} s = **{g['speedup']:.1f}x** "
        f"(identical disks: {g['identical']}).",
        "",
        "## Tokenization speed (motion + map, real scenes)",
        "",
        "1 torch thread (as the token cache runs it); brute force = the same search without the exact prefilter.",
        "",
        "| V | scenarios/s | brute-force scenarios/s | speedup | identical tokens | scenarios/s, default threads |",
        "|---|---|---|---|---|---|",
    ]
    for t in r["tokenize"]:
        lines.append(f"| {t['vocab_size']} | {t['scenarios_per_s']:.2f} | {t['brute_force_scenarios_per_s']:.2f} | "
                     f"{t['speedup']:.2f}x | {t['identical_tokens']} | {t['default_threads_scenarios_per_s']:.2f} "
                     f"({t['default_threads']} threads) |")  # fmt: skip
    lines += [
        "",
        "## Quality on the 2 real scenes",
        "",
        "ADE = per-agent mean position error (m) of the detokenized track over logged-valid steps: mean / p95;",
        "max err p95 = p95 over agents of the largest step error (m).",
        "Meta = WOSAC 2025 realism meta-metric of the tokenized logged future (32 identical rollouts); loss =",
        "oracle - meta. 'vocab only' = logged z, raw values at invalid steps; 'policy-like' = held z, completed futures.",
        "",
        "| vocab source | V | ADE vehicle | ADE pedestrian | ADE cyclist | vehicle max err p95 | meta (vocab only) | loss | kinematic | meta (policy-like) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for q in r["quality"]:
        e = q["error"]

        def a(k, e=e):
            return f"{e[k]['ade_mean']:.3f} / {e[k]['ade_p95']:.3f}" if k in e else "-"

        v = q["vocab_only"]
        pl = f"{q['policy_like']['meta']:.4f}" if "policy_like" in q else "-"
        src = q["source"] + (f" -> {q['eval']}" if "eval" in q else "")
        mx = f"{e['vehicle']['max_err_p95']:.3f}" if "vehicle" in e else "-"
        lines.append(f"| {src} | {q['size']} | {a('vehicle')} | {a('pedestrian')} | {a('cyclist')} | {mx} | "
                     f"{v['meta']:.4f} | {v['loss']:.4f} | {v['kinematic']:.4f} | {pl} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
