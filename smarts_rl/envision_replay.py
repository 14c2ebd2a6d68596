"""`python -m smarts_rl.envision_replay <eval dir>/envision_replay.jsonl [endpoint=ws://localhost:8081]`
(or `--endpoint ws://...`): play an evaluation recorded with `envision_record=true` on a running
Envision server, in real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smarts_rl import command_line
from smarts_rl.errors import UsageError
from smarts_rl.evaluation.envision import DEFAULT_ENDPOINT, check_envision_server

PROGRAM = "envision_replay"


@dataclass
class Options:
    replay: str = ""
    """An envision_replay.jsonl from an evaluation (required; on the command line, the argument without =)."""
    endpoint: str = DEFAULT_ENDPOINT
    """The Envision server to play it on."""


def check(options: Options) -> Options:
    if not options.replay:
        raise UsageError("give the replay to play: python -m smarts_rl.envision_replay <eval dir>/envision_replay.jsonl")
    if not Path(options.replay).is_file():
        raise UsageError(f"{options.replay}: no such replay file")
    check_envision_server(options.endpoint)
    return options


def play(options: Options) -> None:
    from envision.client import Client

    from smarts_rl.env.smarts_env import TIMESTEP_S

    Client.read_and_send(options.replay, endpoint=options.endpoint, fixed_timestep_sec=TIMESTEP_S)


COMMAND = command_line.Command(PROGRAM, Options, __doc__, check=check, run=play, show=lambda _: None,
                               positional="replay", flags=True)


def main(argv: list[str] | None = None) -> int:
    return command_line.main(COMMAND, argv)


if __name__ == "__main__":
    raise SystemExit(main())
