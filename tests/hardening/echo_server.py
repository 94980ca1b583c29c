"""A loopback HTTP server that answers every request with a chosen status and a body built from the
request's Authorization header: a hostile provider echoing the key back in some transformed form."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def echo_server(body: Callable[[str], dict], status: int = 401) -> Iterator[tuple[str, list[str]]]:
    """``(base_url, paths_seen)``; ``body(token)`` makes the JSON answer from the bearer token sent."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            auth = self.headers.get("Authorization", "")
            token = auth.split(" ", 1)[-1]
            data = json.dumps(body(token)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
