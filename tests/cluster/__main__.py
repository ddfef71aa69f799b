"""``python -m tests.cluster --kubeconfig FILE``: serve a test cluster until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from tests.cluster.runner import Listener, write_kubeconfig
from tests.cluster.server import Cluster
from tests.cluster.tekton import parse_version


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.cluster",
                                description="A Kubernetes API server with Tekton, on 127.0.0.1.")
    p.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    p.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    p.add_argument("--tekton-version", default="v1.15.0")
    p.add_argument("--api-fields", choices=("alpha", "beta", "stable"), default="alpha")
    p.add_argument("--namespace", default="default")
    p.add_argument("--token", default=None, help="a bearer token to put in the kubeconfig")
    p.add_argument("--bookmark-interval", type=float, default=5.0)
    p.add_argument("--root", default=None,
                   help="directory for the pods' files (default: a temporary one, removed at exit)")
    args = p.parse_args(argv)
    try:
        parse_version(args.tekton_version)
    except ValueError as e:
        p.error(str(e))
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    cluster = Cluster(tekton_version=args.tekton_version, api_fields=args.api_fields,
                      namespace=args.namespace, bookmark_interval=args.bookmark_interval,
                      root=args.root)
    listener = Listener(cluster, args.port)
    try:
        await listener.start()
    except OSError as e:
        print(f"cannot listen on 127.0.0.1:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    write_kubeconfig(args.kubeconfig, listener.url, namespace=args.namespace, token=args.token)
    print(f"test cluster listening on {listener.url} (kubeconfig {args.kubeconfig})", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    await listener.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
