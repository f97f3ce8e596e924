"""The CLI's file arguments under bad files: random bytes, a real file of the right kind truncated,
an empty file, a directory (empty) and a missing path, in every file slot of every verb that reads
files (inspect, render, validate, evaluate, simulate, package, prepare, vocab build, report kinematics).

Every case must end with a non-zero exit status, a clear error line that names the bad path, and
no Python traceback. The verbs run in-process through `smartr1.cli.main.main` (what the installed
`smartr1` command runs: a `DataError` becomes one `error: <path>: <problem>` line and exit status 2),
with the console wide enough that a long path is never wrapped; two cases run the real command in a
subprocess. The other inputs of each verb are small real files (tests/fuzz/harness.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from smartr1.cli.main import main
from tests.fuzz.harness import COUNTS, fuzz_settings, time_limit

T = "CLI file arguments"
KINDS = ("missing path", "empty file", "empty directory")


@dataclass(frozen=True)
class Slot:
    """One file argument of one verb: `args(bad, good, out)` is the command line with `bad` in the slot;
    `real` names the good input whose truncations feed the slot."""

    name: str
    real: str
    args: object

    def __repr__(self) -> str:
        return self.name


def _slots() -> list[Slot]:
    def sub_opts(g):
        return ["--account-name", "a@example.com", "--method-name", "m", "--num-params", "1"]

    return [
        Slot("inspect FILES", "scenarios", lambda b, g, o: ["inspect", b]),
        Slot("inspect --json FILES", "scenarios", lambda b, g, o: ["inspect", "--json", b]),
        Slot("render FILES", "scenarios", lambda b, g, o: ["render", b, "-o", o]),
        Slot("render --rollouts", "tar", lambda b, g, o: ["render", g.scenarios, "-o", o, "--rollouts", b]),
        Slot("validate SUBMISSION", "tar", lambda b, g, o: ["validate", b]),
        Slot("validate SCENARIOS", "scenarios", lambda b, g, o: ["validate", b, "--kind", "scenarios"]),
        Slot("validate --scenarios", "scenarios", lambda b, g, o: ["validate", g.shards, "--scenarios", b]),
        Slot("evaluate --scenarios", "scenarios",
             lambda b, g, o: ["evaluate", "--scenarios", b, "--submission", g.shards, "--out", f"{o}/m.json"]),
        Slot("evaluate --submission", "tar",
             lambda b, g, o: ["evaluate", "--scenarios", g.scenarios, "--submission", b, "--out", f"{o}/m.json"]),
        Slot("simulate --checkpoint", "checkpoint",
             lambda b, g, o: ["simulate", "--checkpoint", b, "-s", g.scenarios, "-o", o, "--rollouts", "1"]),
        Slot("simulate --scenarios", "scenarios",
             lambda b, g, o: ["simulate", "--checkpoint", g.checkpoint, "-s", b, "-o", o, "--rollouts", "1"]),
        Slot("package SUBMISSION", "tar",
             lambda b, g, o: ["package", b, "--scenarios", g.scenarios, "-o", f"{o}/s.tar.gz", *sub_opts(g)]),
        Slot("package --scenarios", "scenarios",
             lambda b, g, o: ["package", g.shards, "--scenarios", b, "-o", f"{o}/s.tar.gz", *sub_opts(g)]),
        Slot("package --checkpoint", "checkpoint",
             lambda b, g, o: ["package", g.shards, "--scenarios", g.scenarios, "-o", f"{o}/s.tar.gz",
                              "--account-name", "a@example.com", "--method-name", "m", "--checkpoint", b]),
        Slot("prepare FILES", "scenarios",
             lambda b, g, o: ["prepare", b, "--vocab", g.vocab, "--cache-dir", f"{o}/cache"]),
        Slot("prepare --vocab", "vocab",
             lambda b, g, o: ["prepare", g.scenarios, "--vocab", b, "--cache-dir", f"{o}/cache"]),
        Slot("vocab build FILES", "scenarios", lambda b, g, o: ["vocab", "build", b, "-o", f"{o}/v.pt"]),
        Slot("report kinematics --scenarios", "scenarios",
             lambda b, g, o: ["report", "kinematics", "-s", b, "--submission", g.shards, "-o", o]),
        Slot("report kinematics --submission", "tar",
             lambda b, g, o: ["report", "kinematics", "-s", g.scenarios, "--submission", b, "-o", o]),
    ]  # fmt: skip


SLOTS = _slots()


def _params(kinds):
    """(slot, kind) pairs, one test case each."""
    return [pytest.param(slot, kind, id=f"{slot.name}-{kind}") for slot in SLOTS for kind in kinds]


@pytest.fixture(scope="module")
def good(small, tmp_path_factory):
    from types import SimpleNamespace

    from smartr1.testing.batches import arc_vocab_poses
    from smartr1.tokens.vocabulary import MotionVocab

    vocab = tmp_path_factory.mktemp("vocab") / "vocab.pt"
    MotionVocab.from_poses(arc_vocab_poses(8)).save(vocab)
    paths = dict(scenarios=small.scenario_file, shards=small.shards, tar=small.tar, checkpoint=small.checkpoint,
                 vocab=vocab)  # fmt: skip
    return SimpleNamespace(
        **{k: str(v) for k, v in paths.items()}, raw={k: Path(v) for k, v in paths.items()}
    )


@dataclass
class Outcome:
    code: int | None  # None: an exception escaped the entry point
    output: str  # stdout and stderr together (and the traceback of an escaped exception)

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.output.splitlines() if ln.strip()]


def run_cli(args: list[str]) -> Outcome:
    """`smartr1 ARGS` in-process, as the installed entry point runs it; the console is wide enough
    that no line wraps."""
    runner = CliRunner()
    argv = sys.argv
    tb = ""
    with runner.isolation(env={"COLUMNS": "2000", "NO_COLOR": "1", "TERM": "dumb"}) as (out, err, both):
        sys.argv = ["smartr1", *args]
        try:
            with time_limit():
                main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except Exception:  # what the user would see as a traceback
            code, tb = None, traceback.format_exc()
        finally:
            sys.argv = argv
        text = both.getvalue().decode(errors="replace")
    return Outcome(code, text + tb)


def check(slot: Slot, fault: str, bad: Path, outcome: Outcome) -> None:
    """Non-zero exit, no traceback, and an error line (`error: ...` or a listed `✗ ...` problem) that
    names the bad path."""
    errors = [ln for ln in outcome.lines if ln.startswith("error:") or ln.startswith("✗")]
    named = any(str(bad) in ln for ln in errors)
    if outcome.code is None or "Traceback" in outcome.output:
        what = "traceback"
    elif outcome.code == 0:
        what = "exit 0"
    else:
        what = f"error {'naming' if named else 'not naming'} the file (exit {outcome.code})"
    COUNTS[T, fault, what] += 1
    where = f"{slot.name} with {fault} ({bad}): {what}\n{outcome.output[-3000:]}"
    assert what.startswith("error naming"), where


def _fresh(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A case directory: the bad input's parent and an output directory that does not exist yet."""
    d = tmp_path / name
    d.mkdir(parents=True)
    return d, d / "out"


def _bad(kind: str, d: Path, suffix: str) -> Path:
    if kind == "missing path":
        return d / f"missing{suffix}"
    if kind == "empty file":
        (d / f"empty{suffix}").write_bytes(b"")
        return d / f"empty{suffix}"
    (d / "empty_dir").mkdir()
    return d / "empty_dir"


SUFFIX = {"scenarios": ".tfrecord", "tar": ".tar.gz", "checkpoint": ".pt", "vocab": ".pt", "shards": ""}


@pytest.mark.parametrize("slot,kind", _params(KINDS))
def test_missing_empty_and_directory(tmp_path, good, slot, kind):
    d, out = _fresh(tmp_path, "case")
    bad = _bad(kind, d, SUFFIX[slot.real])
    check(slot, kind, bad, run_cli(slot.args(str(bad), good, str(out))))


@pytest.mark.parametrize(
    "budget", [pytest.param(3, id="ci"), pytest.param(50, id="long", marks=pytest.mark.fuzz_long)]
)
@pytest.mark.parametrize("slot,kind", _params(["random"]))
def test_random_bytes_and_truncated_real_files(tmp_path, good, slot, kind, budget):
    """Random bytes, or the slot's real file cut at a random offset (a `.tar.gz` is cut as bytes: a
    broken gzip stream; a cut scenario shard is a broken TFRecord frame)."""
    counter = iter(range(10**9))
    real = good.raw[slot.real].read_bytes()

    @settings(fuzz_settings(budget), phases=[Phase.generate])  # no shrinking: known failures fail fast
    @given(
        st.one_of(
            st.tuples(st.just("random bytes"), st.binary(min_size=1, max_size=2048)),
            st.tuples(st.just("truncated real file"), st.integers(1, len(real) - 1)),
        )
    )
    def case(fault):
        fault, what = fault
        d, out = _fresh(tmp_path, f"c{next(counter)}")
        bad = d / f"bad{SUFFIX[slot.real]}"
        bad.write_bytes(what if fault == "random bytes" else real[:what])
        check(slot, fault, bad, run_cli(slot.args(str(bad), good, str(out))))

    case()


@pytest.mark.parametrize("verb", ["inspect", "validate"])
def test_the_installed_command_prints_one_line(tmp_path, good, verb):
    """The real entry point in a subprocess: exit 2, one `error:` line naming the file on stderr."""
    real = good.raw["scenarios" if verb == "inspect" else "tar"].read_bytes()
    bad = tmp_path / ("cut.tfrecord" if verb == "inspect" else "cut.tar.gz")
    bad.write_bytes(real[: len(real) // 2])
    args = [verb, str(bad)]
    env = {**os.environ, "COLUMNS": "2000", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "smartr1.cli.main", *args], capture_output=True, text=True,
                       env=env, timeout=300)  # fmt: skip
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}"), p.stderr
    assert "Traceback" not in p.stderr + p.stdout
