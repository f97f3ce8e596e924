"""The scenario data model: WOMD's `Scenario` as typed dataclasses of NumPy arrays.

One `Scenario` holds one 9.1 s scene (91 steps at 10 Hz, current step 10). Arrays keep the
precision WOMD stores on disk (positions float64, everything else float32) so that a scenario read
from a TFRecord and written back is unchanged. Shapes are written once per field; `A` = agents
(tracks), `T` = steps, `F` = map features, `P` = map points, `S` = signal slots per step.
Time constants live in `smartr1.data.timeline`. The containers are frozen (a changed scenario is a
`dataclasses.replace` copy); the arrays inside stay writable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.shapes import shape_problem
from smartr1.data.timeline import CURRENT_STEP, NUM_STEPS


class AgentType(IntEnum):
    """`Track.ObjectType` of WOMD."""

    UNSET = 0
    VEHICLE = 1
    PEDESTRIAN = 2
    CYCLIST = 3
    OTHER = 4


class MapKind(IntEnum):
    """Which `MapFeature.feature_data` oneof a map feature carries (values are the proto field numbers)."""

    LANE = 3
    ROAD_LINE = 4
    ROAD_EDGE = 5
    STOP_SIGN = 7
    CROSSWALK = 8
    SPEED_BUMP = 9
    DRIVEWAY = 10


class LaneType(IntEnum):
    UNDEFINED = 0
    FREEWAY = 1
    SURFACE_STREET = 2
    BIKE_LANE = 3


class RoadLineType(IntEnum):
    UNKNOWN = 0
    BROKEN_SINGLE_WHITE = 1
    SOLID_SINGLE_WHITE = 2
    SOLID_DOUBLE_WHITE = 3
    BROKEN_SINGLE_YELLOW = 4
    BROKEN_DOUBLE_YELLOW = 5
    SOLID_SINGLE_YELLOW = 6
    SOLID_DOUBLE_YELLOW = 7
    PASSING_DOUBLE_YELLOW = 8


class RoadEdgeType(IntEnum):
    UNKNOWN = 0
    BOUNDARY = 1
    MEDIAN = 2


class SignalState(IntEnum):
    """`TrafficSignalLaneState.State` of WOMD."""

    UNKNOWN = 0
    ARROW_STOP = 1
    ARROW_CAUTION = 2
    ARROW_GO = 3
    STOP = 4
    CAUTION = 5
    GO = 6
    FLASHING_STOP = 7
    FLASHING_CAUTION = 8


@dataclass(frozen=True)
class Tracks:
    """Agent boxes over time. Invalid steps keep whatever raw values the source had.

    id          [A]     int64    WOMD track id
    type        [A]     int8     AgentType
    x           [A, T]  float64  box centre
    y           [A, T]  float64
    z           [A, T]  float64
    heading     [A, T]  float32  radians, counter-clockwise from +x
    velocity_x  [A, T]  float32  m/s
    velocity_y  [A, T]  float32  m/s
    length      [A, T]  float32  m
    width       [A, T]  float32  m
    height      [A, T]  float32  m
    valid       [A, T]  bool     the track has a state at the step
    """

    id: np.ndarray
    type: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    heading: np.ndarray
    velocity_x: np.ndarray
    velocity_y: np.ndarray
    length: np.ndarray
    width: np.ndarray
    height: np.ndarray
    valid: np.ndarray

    @property
    def num_agents(self) -> int:
        return int(self.id.shape[0])

    @property
    def num_steps(self) -> int:
        return int(self.valid.shape[1]) if self.valid.ndim == 2 else 0

    @classmethod
    def empty(cls, num_agents: int = 0, num_steps: int = NUM_STEPS) -> Tracks:
        def f(dtype):
            return np.zeros((num_agents, num_steps), dtype)

        return cls(
            id=np.zeros(num_agents, np.int64),
            type=np.zeros(num_agents, np.int8),
            x=f(np.float64),
            y=f(np.float64),
            z=f(np.float64),
            heading=f(np.float32),
            velocity_x=f(np.float32),
            velocity_y=f(np.float32),
            length=f(np.float32),
            width=f(np.float32),
            height=f(np.float32),
            valid=f(bool),
        )

    def select(self, index: np.ndarray) -> Tracks:
        """The tracks at `index` (an int array or bool mask over agents)."""
        return Tracks(**{k: v[index] for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class MapFeatures:
    """All static map features as ragged polylines: feature f owns points[offsets[f]:offsets[f+1]].

    Lanes, road lines and road edges are polylines; crosswalks, speed bumps and driveways are
    polygons (outline points, not closed); a stop sign is its single position point.

    id               [F]     int64    map feature id
    kind             [F]     int8     MapKind
    subtype          [F]     int8     LaneType / RoadLineType / RoadEdgeType, else 0
    points           [P, 3]  float64  x, y, z of every feature's points, feature after feature
    offsets          [F+1]   int64    0, then each feature's end in `points` (non-decreasing, ends at P)
    speed_limit_mph  [F]     float64  lanes only (0 elsewhere)
    interpolating    [F]     bool     lanes only
    """

    id: np.ndarray
    kind: np.ndarray
    subtype: np.ndarray
    points: np.ndarray
    offsets: np.ndarray
    speed_limit_mph: np.ndarray
    interpolating: np.ndarray
    # Lane graph and stop-sign links, keyed by feature id (only features that have any).
    entry_lanes: dict[int, list[int]] = field(default_factory=dict)
    exit_lanes: dict[int, list[int]] = field(default_factory=dict)
    left_neighbors: dict[int, list[int]] = field(default_factory=dict)
    right_neighbors: dict[int, list[int]] = field(default_factory=dict)
    stop_sign_lanes: dict[int, list[int]] = field(default_factory=dict)

    @property
    def num_features(self) -> int:
        return int(self.id.shape[0])

    def polyline(self, f: int) -> np.ndarray:
        """[n, 3] points of feature f."""
        return self.points[self.offsets[f] : self.offsets[f + 1]]

    def of_kind(self, kind: MapKind) -> np.ndarray:
        """Indices of the features of one kind."""
        return np.flatnonzero(self.kind == int(kind))

    @classmethod
    def empty(cls) -> MapFeatures:
        return cls(
            id=np.zeros(0, np.int64),
            kind=np.zeros(0, np.int8),
            subtype=np.zeros(0, np.int8),
            points=np.zeros((0, 3), np.float64),
            offsets=np.zeros(1, np.int64),
            speed_limit_mph=np.zeros(0, np.float64),
            interpolating=np.zeros(0, bool),
        )

    @classmethod
    def from_polylines(cls, rows: list[dict]) -> MapFeatures:
        """Build from dicts with keys id, kind, points ([n, 3] or [n, 2]) and optional subtype,
        speed_limit_mph, interpolating, entry_lanes, exit_lanes, left_neighbors, right_neighbors,
        stop_sign_lanes."""
        if not rows:
            return cls.empty()
        pts = []
        for r in rows:
            p = np.asarray(r["points"], np.float64).reshape(-1, np.shape(r["points"])[-1])
            if p.shape[1] == 2:
                p = np.concatenate([p, np.zeros((len(p), 1))], axis=1)
            pts.append(p)
        lens = np.array([len(p) for p in pts], np.int64)
        out = cls(
            id=np.array([r["id"] for r in rows], np.int64),
            kind=np.array([int(r["kind"]) for r in rows], np.int8),
            subtype=np.array([int(r.get("subtype", 0)) for r in rows], np.int8),
            points=np.concatenate(pts, axis=0),
            offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
            speed_limit_mph=np.array([float(r.get("speed_limit_mph", 0.0)) for r in rows]),
            interpolating=np.array([bool(r.get("interpolating", False)) for r in rows]),
        )
        for key in ("entry_lanes", "exit_lanes", "left_neighbors", "right_neighbors", "stop_sign_lanes"):
            table = getattr(out, key)
            for r in rows:
                if r.get(key):
                    table[int(r["id"])] = [int(v) for v in r[key]]
        return out


@dataclass(frozen=True)
class SignalStates:
    """Per-step traffic-signal states, padded to S slots per step (`valid` marks real slots).

    lane_id     [T, S]     int64    the lane the signal controls
    state       [T, S]     int8     SignalState
    stop_point  [T, S, 3]  float64  x, y, z of the stop line
    valid       [T, S]     bool     a real slot (padding is False)
    """

    lane_id: np.ndarray
    state: np.ndarray
    stop_point: np.ndarray
    valid: np.ndarray

    @classmethod
    def empty(cls, num_steps: int = NUM_STEPS) -> SignalStates:
        return cls(
            lane_id=np.zeros((num_steps, 0), np.int64),
            state=np.zeros((num_steps, 0), np.int8),
            stop_point=np.zeros((num_steps, 0, 3), np.float64),
            valid=np.zeros((num_steps, 0), bool),
        )

    @property
    def num_steps(self) -> int:
        return int(self.valid.shape[0])

    def signal_lane_ids(self) -> np.ndarray:
        """Sorted ids of every lane that has a signal at any step."""
        return np.unique(self.lane_id[self.valid])


@dataclass(frozen=True)
class Scenario:
    """One WOMD scenario; `validate` checks the shapes written here (readers run it on every record).

    scenario_id                   str      the scenario's name
    timestamps                    [T]      float64  seconds (empty when the source has none)
    tracks                        Tracks   A tracks over T steps
    map                           MapFeatures
    signals                       SignalStates  over the same T steps
    sdc_track_index               int      the self-driving car's track (an index into A)
    tracks_to_predict             [K]      int64    track indices (into A)
    tracks_to_predict_difficulty  [K]      int8
    objects_of_interest           [J]      int64    track ids
    current_step                  int      10 in WOMD
    """

    scenario_id: str
    timestamps: np.ndarray
    tracks: Tracks
    map: MapFeatures
    signals: SignalStates
    sdc_track_index: int
    tracks_to_predict: np.ndarray
    tracks_to_predict_difficulty: np.ndarray
    objects_of_interest: np.ndarray
    current_step: int = CURRENT_STEP

    @property
    def sdc_id(self) -> int:
        return int(self.tracks.id[self.sdc_track_index])

    def sim_agent_index(self) -> np.ndarray:
        """Tracks valid at the current step, in track order: the agents WOSAC simulates."""
        return np.flatnonzero(self.tracks.valid[:, self.current_step])

    def eval_agent_ids(self) -> np.ndarray:
        """The SDC plus tracks_to_predict, ascending id: the agents WOSAC scores."""
        ids = {self.sdc_id} | {int(self.tracks.id[i]) for i in self.tracks_to_predict}
        return np.array(sorted(ids), np.int64)

    def validate(self, path: str | Path | None = None, record: int | None = None) -> Scenario:
        """The scenario itself, or a `DataError` (naming `path` and `record`, where it was read from)
        for the first field whose shape, dtype or index range differs from the docstrings. Structure
        only: whether the scene is usable (finite values, a valid agent now) is `data.checks`."""
        problem = self.shape_problem()
        if problem:
            raise DataError(path, f"scenario {self.scenario_id!r}: {problem}", record)
        return self

    def shape_problem(self) -> str | None:
        """What `validate` raises on, or None."""
        if not isinstance(self.scenario_id, str):
            return f"scenario_id: expected str, got {type(self.scenario_id).__name__}"
        for name in ("sdc_track_index", "current_step"):
            if not isinstance(getattr(self, name), int | np.integer):
                return f"{name}: expected int, got {type(getattr(self, name)).__name__}"
        sizes: dict[str, int] = {}
        problem = shape_problem(self.tracks, "tracks", sizes) or shape_problem(self.signals, "signals", sizes)
        own = {k: v for k, v in sizes.items() if k != "T" or self.timestamps.shape != (0,)}
        problem = problem or shape_problem(self.map, "map", sizes) or shape_problem(self, "", own)
        if problem:
            return problem.lstrip(".")
        off, a = self.map.offsets, self.tracks.num_agents
        if off[0] != 0 or off[-1] != len(self.map.points) or (np.diff(off) < 0).any():
            return f"map.offsets: expected 0, non-decreasing, ending at P={len(self.map.points)}"
        if ((self.tracks_to_predict < 0) | (self.tracks_to_predict >= a)).any():
            return f"tracks_to_predict: expected indices into the A={a} tracks, got {self.tracks_to_predict}"
        if a and not 0 <= self.sdc_track_index < a:
            return f"sdc_track_index: expected an index into the A={a} tracks, got {self.sdc_track_index}"
        return None
