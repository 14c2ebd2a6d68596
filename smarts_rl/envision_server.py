"""`python -m smarts_rl.envision_server [host=127.0.0.1] [port=8081]` (or `--port 8081`): SMARTS's
Envision web server (the one `scl envision start -p 8081` runs), listening on one address only.

`scl envision start` listens on every network interface; this serves the same app from the
SMARTS wheel on localhost by default. Open http://127.0.0.1:8081 in a browser, then run an
evaluation with `envision=true`. Needs tornado, websocket-client and ijson (SMARTS's
`envision` extra).
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass

from smarts_rl import command_line
from smarts_rl.errors import UsageError

PROGRAM = "envision_server"


@dataclass
class Options:
    host: str = "127.0.0.1"
    """The address to listen on."""
    port: int = 8081
    """The port to listen on."""
    max_capacity_mb: float = 500.0
    """Frames of history the server keeps per simulation, in MB."""


def check(options: Options) -> Options:
    if not 0 < options.port < 65536:
        raise UsageError(f"port must be between 1 and 65535, got {options.port}")
    return options


def serve(options: Options) -> None:
    import tornado.ioloop
    from envision.server import make_app

    logging.basicConfig(level=logging.WARNING)
    host, port = options.host, options.port
    make_app(options.max_capacity_mb, debug=False).listen(port, address=host)
    loop = tornado.ioloop.IOLoop.current()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: loop.add_callback_from_signal(loop.stop))
    print(f"Envision: http://{host}:{port}  (stream to it with evaluate envision=true "
          f"envision_endpoint=ws://{host}:{port})", flush=True)
    loop.start()


COMMAND = command_line.Command(PROGRAM, Options, __doc__, check=check, run=serve, show=lambda _: None, flags=True)


def main(argv: list[str] | None = None) -> int:
    return command_line.main(COMMAND, argv)


if __name__ == "__main__":
    raise SystemExit(main())
