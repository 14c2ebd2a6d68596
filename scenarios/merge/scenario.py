"""Merge: a one-lane on-ramp joins a two-lane road through an 80 m acceleration lane.

Cars drive the main road at up to 60 km/h. The ramp ego must get onto the main road,
into a gap in the traffic, before the acceleration lane ends; the main-road ego drives
past the merge, where a ramp ego may cut in.
"""

from pathlib import Path

from smarts.sstudio.genscenario import gen_scenario
from smarts.sstudio.sstypes import (
    Flow,
    Mission,
    Route,
    Scenario,
    Traffic,
    TrafficActor,
    TrapEntryTactic,
)

car = TrafficActor(name="car")


def main_road_cars(lane: int, per_hour: float) -> Flow:
    return Flow(
        route=Route(begin=("main_in", lane, 0), end=("main_out", lane, "max")),
        rate=per_hour,
        end=300,  # episodes are far shorter than 5 minutes
        randomly_spaced=True,
        actors={car: 1},
    )


# Busy but gappy: a car every 3.6 s on the right lane, every 5 s on the left. Four
# variations of the same flows: the build draws different car spacings for each.
traffic = {
    f"main_road_{variant}": Traffic(
        flows=[main_road_cars(0, per_hour=1000), main_road_cars(1, per_hour=700)]
    )
    for variant in range(4)
}

# The egos enter once the first cars have reached the merge.
enter = TrapEntryTactic(start_time=8, wait_to_hijack_limit_s=0)
ego_missions = [
    # Up the ramp, onto the main road, to 60 m past the end of the acceleration lane.
    Mission(Route(begin=("ramp", 0, 5), end=("main_out", 0, 60)), entry_tactic=enter),
    # Along the main road's right lane, past the merge, reaching it just after the ramp ego.
    Mission(Route(begin=("main_in", 0, 30), end=("main_out", 0, 100)), entry_tactic=enter),
]

gen_scenario(
    Scenario(traffic=traffic, ego_missions=ego_missions),
    output_dir=Path(__file__).parent,
)
