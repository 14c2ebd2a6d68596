"""`python -m smarts_rl.envision_server [--host 127.0.0.1] [--port 8081]`: SMARTS's Envision web
server (the one `scl envision start -p 8081` runs), listening on one address only.

`scl envision start` listens on every network interface; this serves the same app from the
SMARTS wheel on localhost by default. Open http://127.0.0.1:8081 in a browser, then run an
evaluation with `envision=true`. Needs tornado, websocket-client and ijson (SMARTS's
`envision` extra).
"""

from __future__ import annotations

import argparse
import logging
import signal


def serve(host: str, port: int, max_capacity_mb: float) -> None:
    import tornado.ioloop
    from envision.server import make_app

    make_app(max_capacity_mb, debug=False).listen(port, address=host)
    loop = tornado.ioloop.IOLoop.current()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: loop.add_callback_from_signal(loop.stop))
    print(f"Envision: http://{host}:{port}  (stream to it with evaluate envision=true "
          f"envision_endpoint=ws://{host}:{port})", flush=True)
    loop.start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smarts_rl.envision_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default: 8081)")
    parser.add_argument("--max-capacity-mb", type=float, default=500.0,
                        help="frames of history the server keeps per simulation, in MB (default: 500)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    serve(args.host, args.port, args.max_capacity_mb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
