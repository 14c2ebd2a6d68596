"""Overtake: pass a slow car on a straight two-lane road and get back into the right lane.

The quick start's scenario (`+experiment=quickstart`): short episodes (about 12 s) and one
clear lesson. The ego starts in the right lane; a car crawls ahead of it in the same lane,
and the goal is the end of the right lane, 150 m on (SMARTS counts it reached within 2 m,
so an ego still in the left lane misses it and drives off the end of the road). Keeping
the lane runs into the slow car; changing left, passing and changing back reaches the goal.

Traffic: one slow car in the right lane at about 2.5 m/s, there from the first step. Each
traffic variation starts it at its own seeded random spot 35-60 m ahead of the ego; the
left lane is empty. The ego enters at its mission start on the second step of an episode,
and never takes over the slow car.
"""

import random
from pathlib import Path

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
VARIATIONS = 8
EGO_START_M, GOAL_M = 5.0, 155.0
SLOW_CAR_AHEAD_M = (35.0, 60.0)  # the slow car's start, in metres ahead of the ego's

# Speed is a factor of the 60 km/h limit: about 2.5 m/s.
slow_car = TrafficActor(name="slow_car", speed=Distribution(mean=0.15, sigma=0.02))


def slow_car_ahead(variant: int) -> Traffic:
    offset = EGO_START_M + random.Random(variant).uniform(*SLOW_CAR_AHEAD_M)
    trip = Trip(
        vehicle_name="slow_car",
        route=Route(begin=("road", 0, offset), end=("road", 0, "max")),
        depart=0,
        actor=slow_car,
    )
    return Traffic(flows=[], trips=[trip])


traffic = {f"slow_car_{variant}": slow_car_ahead(variant) for variant in range(VARIATIONS)}

# Entering at once (SMARTS adds a trap's new vehicle on the second step at the earliest);
# never taking over the slow car, which would move the ego's start to wherever it was.
enter = TrapEntryTactic(start_time=0, wait_to_hijack_limit_s=0, exclusion_prefixes=("slow_car",))
ego_missions = [Mission(Route(begin=("road", 0, EGO_START_M), end=("road", 0, GOAL_M)), entry_tactic=enter)]

gen_scenario(
    Scenario(traffic=traffic, ego_missions=ego_missions),
    output_dir=HERE,
)
