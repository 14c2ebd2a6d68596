"""`python -m smarts_rl.envision_replay <eval dir>/envision_replay.jsonl [--endpoint ws://localhost:8081]`:
play an evaluation recorded with `envision_record=true` on a running Envision server, in real time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smarts_rl.errors import USAGE_EXIT_CODE, UsageError


def main(argv: list[str] | None = None) -> int:
    from envision.client import Client

    from smarts_rl.env.smarts_env import TIMESTEP_S
    from smarts_rl.evaluate import check_envision_server

    parser = argparse.ArgumentParser(prog="python -m smarts_rl.envision_replay", description=__doc__.splitlines()[0])
    parser.add_argument("replay", type=Path, help="an envision_replay.jsonl from an evaluation")
    parser.add_argument("--endpoint", default="ws://localhost:8081", help="the Envision server (default: ws://localhost:8081)")
    args = parser.parse_args(argv)
    try:
        if not args.replay.is_file():
            raise UsageError(f"{args.replay}: no such replay file")
        check_envision_server(args.endpoint)
    except UsageError as exc:
        print(f"envision_replay: error: {exc}", file=sys.stderr)
        return USAGE_EXIT_CODE
    Client.read_and_send(str(args.replay), endpoint=args.endpoint, fixed_timestep_sec=TIMESTEP_S)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
