"""Merge: a one-lane on-ramp joins a two-lane road through an 80 m acceleration lane.

Cars drive the main road at up to 60 km/h. The ramp ego must get onto the main road,
into a gap in the traffic, before the acceleration lane ends; the main-road ego drives
past the merge, where a ramp ego may cut in.

Traffic: busy but gappy, a car every 3.6 s on the right lane and every 5 s on the left,
on average, at random spacing (at least 1 s apart), and already spread along the whole
main road on the first step. Each traffic variation places those first cars at its own
seeded random gaps, keeping 10 m behind to 20 m ahead of the main-road ego's start free;
from then on SUMO lets cars in at the start of the road at the same rates (its draws
change with each episode's seed). The egos enter at their mission starts at the speed
limit on the second step of an episode, and never take over a traffic car.
"""

import random
from pathlib import Path

from smarts.core.utils.sumo_utils import sumolib
from smarts.sstudio.genscenario import gen_scenario
from smarts.sstudio.sstypes import (
    Flow,
    Mission,
    Route,
    Scenario,
    Traffic,
    TrafficActor,
    Trip,
    TrapEntryTactic,
)

HERE = Path(__file__).parent
SPEED_M_S = 16.67  # the main road's limit, which its cars keep to
MIN_HEADWAY_S = 1.0
VARIATIONS = 8
PER_HOUR = {0: 1000, 1: 700}  # cars per hour on each main-road lane

# The main-road ego's start (lane 0 of main_in, 30 m in) and the stretch round it kept free.
EGO_START_M = 30.0
FREE_BEHIND_M, FREE_AHEAD_M = 10.0, 20.0

car = TrafficActor(name="car")
net = sumolib.net.readNet(str(HERE / "map.net.xml"))


def main_road(lane: int) -> list[tuple[str, int, float]]:
    """(road, lane, length) of a main-road lane from west to east: the merge edge's lane 0 is
    the acceleration lane, so the main road's lanes are one higher there."""
    parts = [("main_in", lane), ("merge", lane + 1), ("main_out", lane)]
    return [(road, i, net.getEdge(road).getLane(i).getLength()) for road, i in parts]


def first_cars(lane: int, rng: random.Random) -> list[tuple[str, int, float]]:
    """(road, lane, offset) of the cars on the lane at the start, walking back from its end
    with the flow's random headways (exponential, at least `MIN_HEADWAY_S`)."""
    parts = main_road(lane)
    mean_gap = SPEED_M_S * 3600 / PER_HOUR[lane]
    position = sum(length for _, _, length in parts) - rng.expovariate(1 / mean_gap)
    cars = []
    while position > 0:
        free = lane == 0 and EGO_START_M - FREE_BEHIND_M < position < EGO_START_M + FREE_AHEAD_M
        if not free:
            cars.append(place(parts, position))
        position -= max(SPEED_M_S * MIN_HEADWAY_S, rng.expovariate(1 / mean_gap))
    return [c for c in cars if c is not None]


def place(parts, position: float):
    for road, lane, length in parts:
        if position < length:
            # SUMO places a car by its front: it must fit on the road it starts on.
            return (road, lane, position) if 6.0 <= position <= length - 1.0 else None
        position -= length
    return None


def first_car(name: str, road: str, lane: int, offset: float) -> Trip:
    end_lane = lane - 1 if road == "merge" else lane
    return Trip(
        vehicle_name=name,
        route=Route(begin=(road, lane, offset), end=("main_out", end_lane, "max")),
        depart=0,
        actor=car,
    )


def entering_cars(lane: int) -> Flow:
    return Flow(
        route=Route(begin=("main_in", lane, 0), end=("main_out", lane, "max")),
        rate=PER_HOUR[lane],
        end=300,  # episodes are far shorter than 5 minutes
        randomly_spaced=True,
        actors={car: 1},
    )


def main_road_traffic(variant: int) -> Traffic:
    rng = random.Random(variant)
    placed = [spot for lane in PER_HOUR for spot in first_cars(lane, rng)]
    return Traffic(
        flows=[entering_cars(lane) for lane in PER_HOUR],
        trips=[first_car(f"car-first-{i}", *spot) for i, spot in enumerate(placed)],
    )


traffic = {f"main_road_{variant}": main_road_traffic(variant) for variant in range(VARIATIONS)}

# Entering at once (SMARTS adds a trap's new vehicle on the second step at the earliest);
# never taking over a traffic car, which would move the ego's start to wherever that car was.
enter = TrapEntryTactic(start_time=0, wait_to_hijack_limit_s=0, exclusion_prefixes=("car",))
ego_missions = [
    # Up the ramp, onto the main road, to 60 m past the end of the acceleration lane.
    Mission(Route(begin=("ramp", 0, 5), end=("main_out", 0, 60)), entry_tactic=enter),
    # Along the main road's right lane, past the merge, reaching it just after the ramp ego.
    Mission(Route(begin=("main_in", 0, EGO_START_M), end=("main_out", 0, 100)), entry_tactic=enter),
]

gen_scenario(
    Scenario(traffic=traffic, ego_missions=ego_missions),
    output_dir=HERE,
)
