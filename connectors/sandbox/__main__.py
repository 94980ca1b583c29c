"""``python -m connectors.sandbox [--port N] [--mint]``: run the loopback sandbox in the foreground."""

from __future__ import annotations

import argparse

from connectors.sandbox.server import SandboxServer, serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connectors.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--mint", action="store_true", help="mint one token of every kind of every provider")
    args = parser.parse_args(argv)

    def ready(server: SandboxServer) -> None:
        print(f"Breaker sandbox on {server.url}  (admin API: {server.url}/_sandbox/; Ctrl-C stops)", flush=True)
        for prefix, kinds in server.providers().items():
            print(f"  {server.base_url(prefix)}")
            if args.mint:
                for kind in kinds or [None]:
                    record = server.mint(prefix, kind)
                    print(f"    {record.kind or '-':<14} {record.token}")

    serve_forever(port=args.port, on_ready=ready)


if __name__ == "__main__":
    main()
