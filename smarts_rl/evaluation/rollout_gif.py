"""`rollout.gif`: a top-down animation of one episode (or of one episode per scenario, in turn), drawn from the SMARTS road map and the
simulator's vehicle states, one frame per 0.1 s step shown for 100 ms (real time); the last
frame stays up for two seconds.

The road (every lane's polygon from the scenario's road map) is drawn once with matplotlib;
vehicles (egos in orange, traffic in blue, each with its front edge darker) and the counters
are drawn on top of it with Pillow; all frames share one small palette, so the GIF stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from smarts_rl.env.smarts_env import TIMESTEP_S

# The map gets about this many pixels whatever its shape (a long road is drawn wide, not
# thin), with no side longer than MAX_SIDE_PX.
PIXEL_BUDGET = 480 * 360
MAX_SIDE_PX = 800
MARGIN_M = 15.0
# A map larger than this is not shown whole: the view follows the egos' paths instead.
WHOLE_MAP_MAX_M = 300.0
MIN_VIEW_M = 40.0
HEADER_PX = 40
ROAD_COLOURS = 32
FRAME_MS = round(TIMESTEP_S * 1000)
LAST_FRAME_MS = 2000

BACKGROUND = "#dfe6d8"
ROAD = "#8c8f94"
LANE_EDGE = "#c9cbce"
EGO = (232, 93, 36)
TRAFFIC = (52, 101, 196)
TEXT = (20, 20, 20)


@dataclass
class Vehicle:
    corners: np.ndarray  # 4 x 2 world coordinates: front left, front right, rear right, rear left
    ego: bool


@dataclass
class Frame:
    step: int
    episode_return: float  # summed over the egos
    egos: int
    vehicles: list[Vehicle]
    events: list[str] = field(default_factory=list)


class RolloutRecorder:
    """Collects frames of one episode; pass `capture` as `run_episode(watch=...)`."""

    def __init__(self):
        self.frames: list[Frame] = []
        self.road_map = None

    def capture(self, env, step: int, returns: dict, infos: dict) -> None:
        simulation = env.simulation
        self.road_map = simulation.road_map
        index = simulation.vehicle_index
        egos = set(index.agent_vehicle_ids())
        vehicles = [
            Vehicle(np.asarray(vehicle.bounding_box, dtype=float)[:, :2], vehicle_id in egos)
            for vehicle_id, vehicle in index.vehicleitems()
        ]
        events = [
            f"{agent_id}: {event.replace('_', ' ')}"
            for agent_id, info in sorted(infos.items())
            for event in ("collision", "off_road", "reached_goal")
            if info.get(event)
        ]
        self.frames.append(Frame(step, float(sum(returns.values())), len(infos), vehicles, events))


def write_gif(recorder: RolloutRecorder, path: Path, title: str = "") -> dict:
    """Render the recorded frames to `path`; returns the GIF's frame count, size and duration."""
    return write_episodes_gif([(recorder, title)], path)


def write_episodes_gif(episodes: list[tuple[RolloutRecorder, str]], path: Path) -> dict:
    """Render several recorded episodes (one per scenario, say), one after another, each with its
    title; frames share the largest episode's size and one palette."""
    if not episodes or any(not r.frames or r.road_map is None for r, _ in episodes):
        raise ValueError("no frames recorded")
    roads = [_draw_road(recorder.road_map, _view(recorder)) for recorder, _ in episodes]
    size = (max(b.width for b, _ in roads), max(b.height for b, _ in roads))
    canvases = []
    for background, _ in roads:
        canvas = Image.new("RGB", size, (255, 255, 255))
        canvas.paste(background, (0, 0))
        canvases.append(canvas)
    palette = _palette(_side_by_side(canvases))
    font = ImageFont.load_default(size=13)
    images, durations = [], []
    for (recorder, title), (_, to_pixels), canvas in zip(episodes, roads, canvases):
        for frame in recorder.frames:
            image = canvas.copy()
            draw = ImageDraw.Draw(image)
            for vehicle in sorted(frame.vehicles, key=lambda v: v.ego):  # egos on top
                _draw_vehicle(draw, to_pixels(vehicle.corners), EGO if vehicle.ego else TRAFFIC)
            _draw_text(draw, frame, title, font)
            images.append(image.quantize(palette=palette, dither=Image.Dither.NONE))
        durations += [FRAME_MS] * (len(recorder.frames) - 1) + [LAST_FRAME_MS]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)
    return {"frames": len(images), "bytes": Path(path).stat().st_size, "width": images[0].width,
            "height": images[0].height, "frame_ms": FRAME_MS, "episodes": len(episodes)}


def _side_by_side(images: list[Image.Image]) -> Image.Image:
    combined = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)), (255, 255, 255))
    for i, image in enumerate(images):
        combined.paste(image, (sum(other.width for other in images[:i]), 0))
    return combined


def _view(recorder: RolloutRecorder) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in metres: the whole map if small, else the egos' paths with some margin."""
    box = recorder.road_map.bounding_box
    x0, y0, x1, y1 = box.min_pt.x, box.min_pt.y, box.max_pt.x, box.max_pt.y
    if max(x1 - x0, y1 - y0) > WHOLE_MAP_MAX_M:
        egos = np.concatenate(
            [v.corners for f in recorder.frames for v in f.vehicles if v.ego] or [np.array([[x0, y0], [x1, y1]])]
        )
        (x0, y0), (x1, y1) = egos.min(axis=0), egos.max(axis=0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half_w, half_h = max(x1 - x0, MIN_VIEW_M) / 2, max(y1 - y0, MIN_VIEW_M) / 2
        x0, x1, y0, y1 = cx - half_w, cx + half_w, cy - half_h, cy + half_h
    return x0 - MARGIN_M, y0 - MARGIN_M, x1 + MARGIN_M, y1 + MARGIN_M


def _draw_road(road_map, view):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon as PolygonPatch
    from smarts.core.coordinates import Point

    x0, y0, x1, y1 = view
    scale = min((PIXEL_BUDGET / ((x1 - x0) * (y1 - y0))) ** 0.5, MAX_SIDE_PX / max(x1 - x0, y1 - y0))  # px per m
    # Even sizes: some GIF viewers and video converters dislike odd ones.
    width, height = [2 * round((extent * scale) / 2) for extent in (x1 - x0, y1 - y0)]
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    fig.patch.set_facecolor(BACKGROUND)
    centre = Point((x0 + x1) / 2, (y0 + y1) / 2)
    radius = float(np.hypot(x1 - x0, y1 - y0)) / 2
    for lane, _ in road_map.nearest_lanes(centre, radius=radius, include_junctions=True):
        shape = lane.shape()
        if shape.geom_type != "Polygon" or shape.is_empty:
            continue
        ax.add_patch(PolygonPatch(np.asarray(shape.exterior.coords), closed=True, facecolor=ROAD,
                                  edgecolor=LANE_EDGE, linewidth=0.6))
    fig.canvas.draw()
    road = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba()).convert("RGB")
    plt.close(fig)
    # The counters get a band of their own above the map, so they never hide a vehicle.
    background = Image.new("RGB", (width, height + HEADER_PX), (255, 255, 255))
    background.paste(road, (0, HEADER_PX))

    def to_pixels(points: np.ndarray) -> list[tuple[float, float]]:
        px = (points[:, 0] - x0) / (x1 - x0) * width
        py = HEADER_PX + (y1 - points[:, 1]) / (y1 - y0) * height
        return list(zip(px.tolist(), py.tolist()))

    return background, to_pixels


def _palette(background: Image.Image) -> Image.Image:
    """One palette for every frame: the road's colours, then the exact colours drawn on it."""
    road = background.quantize(colors=ROAD_COLOURS, dither=Image.Dither.NONE).getpalette()[: 3 * ROAD_COLOURS]
    drawn = [EGO, TRAFFIC, _darker(EGO), _darker(TRAFFIC), (0, 0, 0), (255, 255, 255), TEXT]
    palette = Image.new("P", (1, 1))
    palette.putpalette(road + [channel for colour in drawn for channel in colour])
    return palette


def _darker(colour: tuple) -> tuple:
    return tuple(c // 2 for c in colour)


def _draw_vehicle(draw: ImageDraw.ImageDraw, corners: list, colour: tuple) -> None:
    draw.polygon(corners, fill=colour, outline=(0, 0, 0))
    draw.line([corners[0], corners[1]], fill=_darker(colour), width=3)  # the front


def _draw_text(draw: ImageDraw.ImageDraw, frame: Frame, title: str, font) -> None:
    counters = f"step {frame.step:3d}   t = {frame.step * TIMESTEP_S:4.1f} s   return {frame.episode_return:7.2f}"
    if frame.egos > 1:
        counters += f" (sum of {frame.egos} egos)"
    draw.text((6, 4), counters, fill=TEXT, font=font)
    draw.text((6, 22), "; ".join(frame.events) or title, fill=TEXT, font=font)
    right = draw.im.size[0]
    draw.rectangle((right - 110, 8, right - 98, 18), fill=EGO)
    draw.text((right - 94, 5), "ego", fill=TEXT, font=font)
    draw.rectangle((right - 62, 8, right - 50, 18), fill=TRAFFIC)
    draw.text((right - 46, 5), "traffic", fill=TEXT, font=font)
