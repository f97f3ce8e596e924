"""Colours, widths and draw order for scenario pictures, kept in one place so PNGs and GIFs agree.

Agent colours avoid red / yellow / green, which belong to traffic signals.
"""

from __future__ import annotations

from dataclasses import dataclass

from smartr1.data.scenario import AgentType, LaneType, RoadLineType, SignalState

BACKGROUND = "#ecebe6"

# Agents: (fill, edge) per type.
AGENT_COLORS: dict[int, tuple[str, str]] = {
    int(AgentType.UNSET): ("#9e9e9e", "#555555"),
    int(AgentType.VEHICLE): ("#4a7fc1", "#1f3f66"),
    int(AgentType.PEDESTRIAN): ("#e0559b", "#7a1f4c"),
    int(AgentType.CYCLIST): ("#19a3a3", "#0b5252"),
    int(AgentType.OTHER): ("#9e9e9e", "#555555"),
}
AGENT_LABELS: dict[int, str] = {
    int(AgentType.VEHICLE): "vehicle",
    int(AgentType.PEDESTRIAN): "pedestrian",
    int(AgentType.CYCLIST): "cyclist",
    int(AgentType.OTHER): "other",
    int(AgentType.UNSET): "other",
}
SDC_FILL = "#7a35c4"
SDC_EDGE = "#000000"
PREDICT_EDGE = "#ff8c00"
AGENT_EDGE_WIDTH = 0.6
PREDICT_EDGE_WIDTH = 2.0
HEADING_COLOR = "#111111"
RING_RADIUS_M = 2.2  # ring around small tracks to predict (pedestrians, cyclists)
RING_BELOW_LENGTH_M = 3.0

# Map.
LANE_COLOR = "#a3a3a3"
BIKE_LANE_COLOR = "#8fbf8f"
LANE_WIDTH = 0.6
ROAD_EDGE_COLOR = "#2a2a2a"
ROAD_EDGE_WIDTH = 1.8
WHITE_LINE = "#ffffff"
WHITE_LINE_CASING = "#8c8c8c"
YELLOW_LINE = "#e8b400"
UNKNOWN_LINE = "#c8c8c8"
CROSSWALK_FACE = "#fafafa"
CROSSWALK_HATCH = "#9a9a9a"
SPEED_BUMP_FACE = "#f2d7a6"
SPEED_BUMP_EDGE = "#b88a3a"
DRIVEWAY_FACE = "#dedbd2"
STOP_SIGN_COLOR = "#c8102e"

# Signals.
SIGNAL_RED = "#e3242b"
SIGNAL_YELLOW = "#ffc20e"
SIGNAL_GREEN = "#2fb344"
SIGNAL_UNKNOWN = "#7f7f7f"
SIGNAL_COLORS: dict[int, str] = {
    int(SignalState.UNKNOWN): SIGNAL_UNKNOWN,
    int(SignalState.ARROW_STOP): SIGNAL_RED,
    int(SignalState.STOP): SIGNAL_RED,
    int(SignalState.FLASHING_STOP): SIGNAL_RED,
    int(SignalState.ARROW_CAUTION): SIGNAL_YELLOW,
    int(SignalState.CAUTION): SIGNAL_YELLOW,
    int(SignalState.FLASHING_CAUTION): SIGNAL_YELLOW,
    int(SignalState.ARROW_GO): SIGNAL_GREEN,
    int(SignalState.GO): SIGNAL_GREEN,
}
SIGNAL_LANE_LENGTH_M = 8.0  # how much of a controlled lane is tinted with its signal colour

# Draw order (higher is on top).
Z_DRIVEWAY, Z_CROSSWALK, Z_LANE, Z_ROAD_LINE, Z_ROAD_EDGE = 1, 2, 3, 4, 5
Z_SCALE = 5.5
Z_SIGNAL_LANE, Z_STOP_SIGN, Z_FUTURE, Z_HISTORY, Z_AGENT, Z_HEADING, Z_SIGNAL = 6, 7, 8, 9, 10, 11, 12


@dataclass(frozen=True)
class LineStyle:
    color: str
    width: float
    dashes: tuple[float, float] | None  # on/off lengths in points, None = solid
    casing: bool  # draw a darker outline underneath (white lines on a light background)


def agent_colors(agent_type: int) -> tuple[str, str]:
    return AGENT_COLORS.get(int(agent_type), AGENT_COLORS[int(AgentType.OTHER)])


def signal_color(state: int) -> str:
    return SIGNAL_COLORS.get(int(state), SIGNAL_UNKNOWN)


def lane_color(lane_type: int) -> str:
    return BIKE_LANE_COLOR if int(lane_type) == int(LaneType.BIKE_LANE) else LANE_COLOR


def road_line_style(line_type: int) -> LineStyle:
    t = int(line_type)
    broken = (4.0, 3.0)
    if t == RoadLineType.BROKEN_SINGLE_WHITE:
        return LineStyle(WHITE_LINE, 1.0, broken, True)
    if t == RoadLineType.SOLID_SINGLE_WHITE:
        return LineStyle(WHITE_LINE, 1.0, None, True)
    if t == RoadLineType.SOLID_DOUBLE_WHITE:
        return LineStyle(WHITE_LINE, 1.8, None, True)
    if t == RoadLineType.BROKEN_SINGLE_YELLOW:
        return LineStyle(YELLOW_LINE, 1.0, broken, False)
    if t == RoadLineType.BROKEN_DOUBLE_YELLOW:
        return LineStyle(YELLOW_LINE, 1.8, broken, False)
    if t == RoadLineType.SOLID_SINGLE_YELLOW:
        return LineStyle(YELLOW_LINE, 1.0, None, False)
    if t == RoadLineType.SOLID_DOUBLE_YELLOW:
        return LineStyle(YELLOW_LINE, 1.8, None, False)
    if t == RoadLineType.PASSING_DOUBLE_YELLOW:
        return LineStyle(YELLOW_LINE, 1.8, (6.0, 2.0), False)
    return LineStyle(UNKNOWN_LINE, 0.8, None, False)
