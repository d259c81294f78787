"""`python3 -m sim.apiserver --state-dir DIR [--http] [--port N] [--bookmark-interval S] [--history N] [--watch-list]`

Serves until SIGTERM/SIGINT. Writes DIR/kubeconfig, DIR/operator.kubeconfig, DIR/kubelet.kubeconfig,
DIR/ca.crt, DIR/port and DIR/server-url once listening."""
import argparse
import asyncio
import logging
import signal
import sys

from .server import Config, Server


def main(argv=None):
    ap = argparse.ArgumentParser(prog="sim.apiserver")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--http", action="store_true", help="serve plain HTTP (bearer tokens only)")
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    ap.add_argument("--history", type=int, default=1000, help="watch history size per resource")
    ap.add_argument("--watch-list", action="store_true",
                    help="serve streaming lists (sendInitialEvents=true) as a 1.32 server on etcd >= 3.4.31 does; "
                         "default: refuse them as the captured server on etcd 3.4.23 (one ERROR 500 event)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = Config(a.state_dir, a.host, a.port, a.http, a.bookmark_interval, a.history, a.watch_list)

    async def run():
        srv = Server(cfg)
        await srv.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        await stop.wait()
        await srv.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main()
