"""Command line: /usr/bin/python3 -m sim.kubelet --kubeconfig F --node-name N --state-dir D --image-map M

Signals: SIGTERM/SIGINT kill every container process group and exit 0;
SIGUSR1 simulates a lost node, SIGUSR2 ends that simulation.
"""
import argparse
import asyncio
import logging
import signal
import sys

from . import isolation as isolation_mod
from .client import KubeClient
from .images import ImageMap
from .kubeconfig import load
from .kubelet import Kubelet
from .netns import NetworkError


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m sim.kubelet", description=__doc__)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--context", default=None)
    p.add_argument("--node-name", default="sim-node-1")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--image-map", default=None, help="YAML image map (see sim/kubelet/images.py)")
    p.add_argument("--pod-cidr", default=None,
                   help="loopback mode: a 127.x range (default 127.77.0.0/16); namespaces mode: inside "
                        "198.18.0.0/15 (default: a free /24 of it)")
    p.add_argument("--pod-isolation", choices=isolation_mod.MODES, default=None,
                   help=f"default ${isolation_mod.ENV_VAR}, else {isolation_mod.DEFAULT_MODE} (see isolation.py)")
    p.add_argument("--host-ip", default="127.0.0.1")
    p.add_argument("--restart-backoff-base", type=float, default=10.0, help="seconds (kubelet: 10)")
    p.add_argument("--heartbeat-interval", type=float, default=10.0, help="seconds between Lease renewals")
    p.add_argument("--lost-node-file", default=None, help="while this file exists the node acts lost")
    p.add_argument("--no-scheduler", action="store_true", help="do not bind unscheduled pods")
    p.add_argument("--watch-delay-ms", type=int, default=0,
                   help="each pod watch event reaches the pod workers this late (a loaded kubelet/apiserver)")
    p.add_argument("--restart-race-window-ms", type=int, default=1000,
                   help="length of a pod sync in progress that restarts an exited container of a pod just "
                        "deleted (kubernetes#57291; the default 1000 reproduces a real node; 0 = off)")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def pod_isolation(args):
    """The isolation mode's sandbox (None in loopback mode) and the pod CIDR; logs the mode and why, once."""
    mode, why = isolation_mod.choose(args.pod_isolation, args.pod_cidr)
    if mode == "loopback":
        cidr = args.pod_cidr or "127.77.0.0/16"
        logging.getLogger("kubelet").info("pod isolation: loopback (%s); pod CIDR %s on lo", why, cidr)
        return None, cidr
    iso = isolation_mod.NamespaceIsolation(args.state_dir, args.pod_cidr)
    logging.getLogger("kubelet").info("pod isolation: namespaces (%s); pod CIDR %s on bridge %s",
                                      why, iso.cidr, iso.network.bridge)
    return iso, iso.cidr


async def amain(args) -> int:
    try:
        iso, args.pod_cidr = pod_isolation(args)
    except (isolation_mod.IsolationError, NetworkError, OSError) as e:
        logging.getLogger("kubelet").error("cannot start: %s", e)
        return 2
    try:
        return await run_kubelet(args, iso)
    finally:
        if iso is not None:
            iso.teardown()   # every pod namespace, the bridge, the subnet lease


async def run_kubelet(args, iso) -> int:
    client = KubeClient(load(args.kubeconfig, args.context))
    await client.open()
    kubelet = Kubelet(client, args.node_name, args.state_dir, ImageMap(args.image_map), args.pod_cidr,
                      backoff_base=args.restart_backoff_base, lost_node_file=args.lost_node_file,
                      host_ip=args.host_ip, schedule=not args.no_scheduler,
                      heartbeat_interval=args.heartbeat_interval, isolation=iso,
                      watch_delay=args.watch_delay_ms / 1000.0,
                      restart_race_window=args.restart_race_window_ms / 1000.0)
    loop = asyncio.get_running_loop()
    stop = {"sig": None}

    def on_stop(sig):
        stop["sig"] = sig
        logging.getLogger("kubelet").info("signal %d: killing every container and exiting", sig)
        kubelet.shutdown()
        main_task.cancel()

    main_task = loop.create_task(kubelet.run())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop, sig)
    loop.add_signal_handler(signal.SIGUSR1, kubelet.set_lost_by_signal, True)
    loop.add_signal_handler(signal.SIGUSR2, kubelet.set_lost_by_signal, False)
    try:
        await main_task
    except asyncio.CancelledError:
        pass
    finally:
        kubelet.shutdown()
        await client.close()
    return 0


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
