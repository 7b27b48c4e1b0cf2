"""Command line: ``pytest-kinesis-limits serve`` and ``pytest-kinesis-limits sweep``.

``serve`` runs moto's server on loopback with the offline fidelity layer (a Kinesis-like endpoint for
``pytest --aws-endpoint-url``). ``sweep`` finds resources this tool tagged (``created-by``) that a killed
run left behind, and deletes them only when asked to with ``--yes``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    import contextlib

    from moto.server import ThreadedMotoServer

    from .clock import RealClock

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with contextlib.ExitStack() as stack:
        if args.fidelity == "on":
            from .offline import activate_all

            stack.enter_context(activate_all(RealClock()))
        print(f"listening on http://{host}:{port} (fidelity {args.fidelity})", flush=True)
        stop.wait()
    server.stop()
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .backends import PreflightError, preflight
    from .settings import resolve
    from .sweep import delete_found, find_tagged

    settings = resolve({"live": not args.endpoint_url, "aws_region": args.region, "aws_profile": args.profile,
                        "aws_endpoint_url": args.endpoint_url}, {}, {})
    try:
        backend = preflight(settings)
    except PreflightError as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    found = find_tagged(backend, run_id=args.run_id)
    for kind, name in found:
        print(f"{'deleting' if args.yes else 'found'} {kind} {name}")
    if not found:
        print("nothing tagged created-by=pytest-kinesis-limits" + (f" run-id={args.run_id}" if args.run_id else ""))
    if args.yes:
        failures = delete_found(backend, found)
        for kind, name, error in failures:
            print(f"could not delete {kind} {name}: {error}", file=sys.stderr)
        return 1 if failures else 0
    if found:
        print("dry run: add --yes to delete these")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pytest-kinesis-limits", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a Kinesis-like moto server on loopback")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: any free port, printed)")
    serve.add_argument("--fidelity", choices=("on", "off"), default="on", help="apply the fidelity layer")
    serve.set_defaults(run=_serve)
    sweep = commands.add_parser("sweep", help="find (and with --yes delete) resources this tool left behind")
    sweep.add_argument("--region", help="AWS region (default: the profile's)")
    sweep.add_argument("--profile", help="AWS profile")
    sweep.add_argument("--endpoint-url", help="sweep an emulator instead of AWS")
    sweep.add_argument("--run-id", help="only resources of this run (its run-id tag)")
    sweep.add_argument("--yes", action="store_true", help="delete what is found (default: list only)")
    sweep.set_defaults(run=_sweep)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
