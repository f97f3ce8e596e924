"""Run one world headless in libsumo and log every agent and signal at 0.1 s.

libsumo holds one simulation per process (a second `start` silently replaces the first), so a
`Recorder` must be the only one alive in its process; the generator gives each world its own
worker process.

An agent's log is split into segments wherever its samples stop being trustworthy: while it
teleports (SUMO returns sentinel values), and at any jump no vehicle could drive in one step. Each
segment becomes its own track, so a window never contains a teleport jump.

Parked cars (see `parking.py`) stand still on a lane nothing else may enter, for longer than any
simulation, so they are read once when they appear and logged as constant tracks from then on,
instead of being polled every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smartr1.data.scenario import AgentType
from smartr1.data.sumo.convert import centre_from_front_path, compass_to_heading, front_to_centre, velocity
from smartr1.data.sumo.parking import is_parked, parked_pose
from smartr1.data.sumo.world import WorldError, WorldFiles

STEP_S = 0.1
MAX_STEP_JUMP_M = 5.0  # no agent moves this far in 0.1 s (180 km/h) except by teleport

_VCLASS_TYPE = {"bicycle": AgentType.CYCLIST, "pedestrian": AgentType.PEDESTRIAN}


@dataclass
class AgentLog:
    """One contiguous, teleport-free segment of one SUMO agent; arrays are [n] over steps start..start+n-1."""

    key: int  # world-unique track id (segments of one SUMO agent get different keys)
    sumo_id: str
    type: AgentType
    vclass: str
    start: int  # first step index of the recording
    x: np.ndarray  # float64, box centre
    y: np.ndarray
    heading: np.ndarray  # float32, radians
    vx: np.ndarray  # float32, m/s
    vy: np.ndarray
    internal: np.ndarray  # bool, on a junction (internal) lane
    length: float
    width: float
    height: float

    @property
    def stop(self) -> int:
        return self.start + int(self.x.shape[0])


@dataclass
class WorldLog:
    """Everything recorded in one world: agent segments and the signal string of every TLS per step."""

    agents: list[AgentLog]
    tls_ids: list[str]
    tls_states: list[list[str]]  # [steps][tls] link-state strings
    num_steps: int
    teleports: int


class _Open:
    """A segment being recorded (python lists, converted once at the end)."""

    __slots__ = ("key", "sumo_id", "vclass", "start", "rows", "dims", "is_person")

    def __init__(self, key, sumo_id, vclass, start, dims, is_person):
        self.key = key
        self.sumo_id = sumo_id
        self.vclass = vclass
        self.start = start
        self.dims = dims
        self.is_person = is_person
        self.rows: list[tuple] = []  # (x, y, angle, speed, speed_lat, internal)


def sumo_args(files: WorldFiles, seed: int) -> list[str]:
    return [
        "sumo",
        "-n", str(files.net),
        "-a", str(files.pedtypes),
        "-r", ",".join(str(r) for r in files.routes),
        "--step-length", str(STEP_S),
        "--seed", str(seed % 2**31),
        "--no-step-log", "--no-warnings",
        "--lanechange.duration", "3",
        "--collision.action", "warn",
        "--time-to-teleport", "60",
        # A vehicle standing in a junction for 10 s (a left-turning bike waiting inside it, say) no
        # longer blocks the others: such junction blockages otherwise build queues for a minute.
        "--ignore-junction-blocker", "10",
        "--ignore-route-errors",
    ]  # fmt: skip


class Recorder:
    """Warm a world up, then log it step by step; call `advance` as often as needed, then `log()`."""

    def __init__(self, files: WorldFiles, seed: int, warmup_s: float):
        import libsumo  # SUMO: native, one simulation per process: loaded only in a world's worker

        self._ls = libsumo
        tc = libsumo.constants
        self._veh_vars = [
            tc.VAR_POSITION, tc.VAR_ANGLE, tc.VAR_SPEED, tc.VAR_SPEED_LAT, tc.VAR_LANE_ID, tc.VAR_TYPE,
        ]  # fmt: skip
        self._per_vars = [tc.VAR_POSITION, tc.VAR_ANGLE, tc.VAR_SPEED, tc.VAR_LANE_ID, tc.VAR_TYPE]
        self._tc = tc
        try:
            libsumo.start(sumo_args(files, seed))
            libsumo.simulationStep(float(warmup_s))
        except Exception as e:  # libsumo raises its own TraCIException / FatalTraCIError
            self._close()
            raise WorldError(f"SUMO failed during warm-up: {e}") from e
        self.tls_ids = sorted(libsumo.trafficlight.getIDList())
        for t in self.tls_ids:
            libsumo.trafficlight.subscribe(t, [tc.TL_RED_YELLOW_GREEN_STATE])
        self._types: dict[str, tuple[str, float, float, float]] = {}
        self._open: dict[str, _Open] = {}
        self._done: list[_Open] = []
        self._parked: list[_Open] = []  # one row each: the pose they keep
        self._next_key = 1  # ids start at 1, like WOMD object ids (never 0)
        for v in libsumo.vehicle.getIDList():
            self._watch(v, 0)
        for p in libsumo.person.getIDList():
            libsumo.person.subscribe(p, self._per_vars)
        self._tls_states: list[list[str]] = []
        self.num_steps = 0
        self.teleports = 0
        self._closed = False

    def _type_info(self, type_id: str) -> tuple[str, float, float, float]:
        info = self._types.get(type_id)
        if info is None:
            vt = self._ls.vehicletype
            info = (
                vt.getVehicleClass(type_id),
                vt.getLength(type_id),
                vt.getWidth(type_id),
                vt.getHeight(type_id),
            )
            self._types[type_id] = info
        return info

    def _watch(self, vid: str, step: int) -> None:
        """Subscribe a vehicle that drives; read a parked one once."""
        vehicle = self._ls.vehicle
        if not is_parked(vid):
            vehicle.subscribe(vid, self._veh_vars)
            return
        x, y, heading = parked_pose(vid)
        vclass, length, width, height = self._type_info(vehicle.getTypeID(vid))
        seg = _Open(self._next_key, vid, vclass, step, (length, width, height), False)
        seg.rows.append((x, y, heading, 0.0, 0.0, False))
        self._next_key += 1
        self._parked.append(seg)

    def _end(self, sid: str) -> None:
        seg = self._open.pop(sid, None)
        if seg is not None and seg.rows:
            self._done.append(seg)

    def _take(self, results: dict, is_person: bool, step: int, seen: set) -> None:
        tc = self._tc
        for sid, r in results.items():
            pos = r.get(tc.VAR_POSITION)
            lane = r.get(tc.VAR_LANE_ID, "")
            speed = r.get(tc.VAR_SPEED, -1.0)
            if pos is None or len(pos) != 2 or not lane or speed < -1e6 or pos[0] < -1e8:
                self._end(sid)  # teleporting or otherwise invalid sample
                continue
            seen.add(sid)
            seg = self._open.get(sid)
            if seg is not None:
                last = seg.rows[-1]
                if abs(pos[0] - last[0]) + abs(pos[1] - last[1]) > MAX_STEP_JUMP_M:
                    self._end(sid)
                    seg = None
            if seg is None:
                vclass, length, width, height = self._type_info(r[tc.VAR_TYPE])
                seg = _Open(self._next_key, sid, vclass, step, (length, width, height), is_person)
                self._next_key += 1
                self._open[sid] = seg
            seg.rows.append(
                (
                    pos[0],
                    pos[1],
                    r[tc.VAR_ANGLE],
                    speed,
                    0.0 if is_person else r[tc.VAR_SPEED_LAT],
                    lane[0] == ":",
                )
            )

    def advance(self, steps: int) -> None:
        """Simulate and log `steps` more steps of 0.1 s."""
        ls = self._ls
        try:
            for _ in range(steps):
                ls.simulationStep()
                for sid in ls.simulation.getStartingTeleportIDList():
                    self.teleports += 1
                    self._end(sid)
                for v in ls.simulation.getDepartedIDList():
                    self._watch(v, self.num_steps)
                for p in ls.simulation.getDepartedPersonIDList():
                    ls.person.subscribe(p, self._per_vars)
                step = self.num_steps
                seen: set[str] = set()
                self._take(ls.vehicle.getAllSubscriptionResults(), False, step, seen)
                self._take(ls.person.getAllSubscriptionResults(), True, step, seen)
                for sid in [s for s in self._open if s not in seen]:
                    self._end(sid)  # arrived (or vanished) agents
                tl = ls.trafficlight.getAllSubscriptionResults()
                tls_var = self._tc.TL_RED_YELLOW_GREEN_STATE
                self._tls_states.append([tl[t][tls_var] for t in self.tls_ids])
                self.num_steps += 1
        except WorldError:
            raise
        except Exception as e:
            self.close()
            raise WorldError(f"SUMO failed at recorded step {self.num_steps}: {e}") from e

    def log(self) -> WorldLog:
        """Everything logged so far (open segments included, up to the last step)."""
        segs = sorted(self._done + list(self._open.values()), key=lambda s: s.key)
        agents = [_convert(s) for s in segs if s.rows]
        agents += [_parked(s, self.num_steps) for s in self._parked if s.start < self.num_steps]
        agents.sort(key=lambda a: a.key)
        return WorldLog(
            agents=agents,
            tls_ids=list(self.tls_ids),
            tls_states=list(self._tls_states),
            num_steps=self.num_steps,
            teleports=self.teleports,
        )

    def halted_fraction(self) -> float:
        """Fraction of vehicles now standing still (a gridlock check)."""
        speeds = [r[self._tc.VAR_SPEED] for r in self._ls.vehicle.getAllSubscriptionResults().values()]
        speeds = [s for s in speeds if s > -1e6]
        return float(np.mean(np.asarray(speeds) < 0.1)) if speeds else 0.0

    def _close(self) -> None:
        try:
            self._ls.close()
        except Exception:
            pass

    def close(self) -> None:
        if not getattr(self, "_closed", False):
            self._closed = True
            self._close()


def _convert(seg: _Open) -> AgentLog:
    a = np.asarray([r[:5] for r in seg.rows], np.float64)
    internal = np.asarray([r[5] for r in seg.rows], bool)
    heading = compass_to_heading(a[:, 2])
    length, width, height = seg.dims
    if seg.is_person:
        cx, cy, h = a[:, 0], a[:, 1], heading  # persons are logged at their centre
    else:
        cx, cy, h = centre_from_front_path(a[:, 0], a[:, 1], heading, length)
    vx, vy = velocity(a[:, 3], a[:, 4], heading)
    atype = _VCLASS_TYPE.get(seg.vclass, AgentType.VEHICLE)
    return AgentLog(
        key=seg.key,
        sumo_id=seg.sumo_id,
        type=atype,
        vclass=seg.vclass,
        start=seg.start,
        x=cx,
        y=cy,
        heading=h.astype(np.float32),
        vx=vx.astype(np.float32),
        vy=vy.astype(np.float32),
        internal=internal,
        length=float(length),
        width=float(width),
        height=float(height),
    )


def _parked(seg: _Open, num_steps: int) -> AgentLog:
    """A parked car's constant track from the step it appeared to the last recorded step."""
    n = num_steps - seg.start
    x, y, h = seg.rows[0][:3]
    length, width, height = seg.dims
    cx, cy = front_to_centre(x, y, h, length)
    zeros = np.zeros(n, np.float32)
    return AgentLog(
        key=seg.key,
        sumo_id=seg.sumo_id,
        type=AgentType.VEHICLE,
        vclass=seg.vclass,
        start=seg.start,
        x=np.full(n, float(cx)),
        y=np.full(n, float(cy)),
        heading=np.full(n, h, np.float32),
        vx=zeros,
        vy=zeros.copy(),
        internal=np.zeros(n, bool),
        length=float(length),
        width=float(width),
        height=float(height),
    )


def record(files: WorldFiles, seed: int, warmup_s: float, steps: int) -> WorldLog:
    """Warm up, log `steps` steps, close; convenience wrapper around `Recorder`."""
    rec = Recorder(files, seed, warmup_s)
    try:
        rec.advance(steps)
        return rec.log()
    finally:
        rec.close()
