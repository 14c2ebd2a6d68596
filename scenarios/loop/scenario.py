"""Loop: a two-lane oval ring road (340 m round) with a few slow SUMO cars circling it.

The ego drives three quarters of the way round (about 250 m, some 20 s) through both
bends. The cars drive at about 30 km/h, so an ego that keeps up its speed must change
lanes to pass them, or slow down behind them.

Traffic: four slow cars per lane, all on the ring from the first step. Each traffic
variation places them at its own seeded random spots round the ring (at least 15 m apart),
keeping the stretch from 10 m behind to 40 m ahead of each ego's start free; they drive
off at their own speed (SUMO draws it per car and episode) and circle for ever. The egos
enter at their mission starts at the speed limit on the second step of an episode, and
never take over a traffic car.
"""

import random
from pathlib import Path

from smarts.core.utils.sumo_utils import sumolib
from smarts.sstudio.genscenario import gen_scenario
from smarts.sstudio.sstypes import (
    Distribution,
    Mission,
    Route,
    Scenario,
    Traffic,
    TrafficActor,
    Trip,
    TrapEntryTactic,
)

HERE = Path(__file__).parent
RING = ["south", "east", "north", "west"]  # the driving order, counter-clockwise
CARS_PER_LANE = 4
MIN_GAP_M = 15.0
VARIATIONS = 8

# (lane, road, offset) of each ego's start, and the stretch round it kept free of cars.
EGO_STARTS = [(0, "south", 5.0), (1, "north", 5.0)]
FREE_BEHIND_M, FREE_AHEAD_M = 10.0, 40.0

# Speed is a factor of the 50 km/h limit.
slow_car = TrafficActor(name="slow_car", speed=Distribution(mean=0.6, sigma=0.1))

net = sumolib.net.readNet(str(HERE / "map.net.xml"))


def lane_lengths(lane: int) -> list[float]:
    return [net.getEdge(road).getLane(lane).getLength() for road in RING]


def ring_position(lane: int, road: str, offset: float) -> float:
    """Metres along the lane from the start of the south straight."""
    return sum(lane_lengths(lane)[: RING.index(road)]) + offset


def road_and_offset(lane: int, position: float) -> tuple[str, float]:
    for road, length in zip(RING, lane_lengths(lane)):
        if position < length:
            # SUMO places a car by its front: keep it whole on this road.
            return road, min(max(position, 6.0), length - 1.0)
        position -= length
    raise ValueError(position)


def free_of_egos(lane: int, position: float, round_m: float) -> bool:
    for ego_lane, road, offset in EGO_STARTS:
        ahead = (position - ring_position(ego_lane, road, offset)) % round_m
        if ego_lane == lane and (ahead < FREE_AHEAD_M or ahead > round_m - FREE_BEHIND_M):
            return False
    return True


def spots(lane: int, rng: random.Random) -> list[float]:
    """`CARS_PER_LANE` random positions round the lane, far enough apart and from the egos."""
    round_m = sum(lane_lengths(lane))
    while True:
        chosen = sorted(rng.uniform(0, round_m) for _ in range(CARS_PER_LANE))
        gaps = [(b - a) % round_m for a, b in zip(chosen, chosen[1:] + chosen[:1])]
        if min(gaps) >= MIN_GAP_M and all(free_of_egos(lane, p, round_m) for p in chosen):
            return chosen


def circling_car(name: str, lane: int, position: float) -> Trip:
    road, offset = road_and_offset(lane, position)
    last_road = RING[RING.index(road) - 1]  # once round; "endless" in the name makes it go on
    return Trip(
        vehicle_name=name,
        route=Route(begin=(road, lane, offset), end=(last_road, lane, "max")),
        depart=0,
        actor=slow_car,
    )


def slow_cars(variant: int) -> Traffic:
    rng = random.Random(variant)
    trips = [
        circling_car(f"slow_car-endless-{lane}-{i}", lane, position)
        for lane in (0, 1)
        for i, position in enumerate(spots(lane, rng))
    ]
    return Traffic(flows=[], trips=trips)


traffic = {f"slow_cars_{variant}": slow_cars(variant) for variant in range(VARIATIONS)}

# Entering at once (SMARTS adds a trap's new vehicle on the second step at the earliest);
# never taking over a traffic car, which would move the ego's start to wherever that car was.
enter = TrapEntryTactic(start_time=0, wait_to_hijack_limit_s=0, exclusion_prefixes=("slow_car",))
ego_missions = [
    # From the start of the south straight into the west bend, right lane: 3/4 of the way round.
    Mission(Route(begin=("south", 0, 5), end=("west", 0, 25)), entry_tactic=enter),
    # The same distance from the start of the north straight, left lane.
    Mission(Route(begin=("north", 1, 5), end=("east", 1, 25)), entry_tactic=enter),
]

gen_scenario(
    Scenario(traffic=traffic, ego_missions=ego_missions),
    output_dir=HERE,
)
