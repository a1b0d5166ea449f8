"""A stand-in for the PGS Catalog: its REST API and FTP site, served on 127.0.0.1 by a stdlib
HTTP server in a thread (:class:`CatalogServer`), with the routes a test gives
(:class:`FakeCatalog`). No traffic leaves the machine.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class FakeCatalog:
    """Routes (path with query -> status, body) and the paths requested, in order."""

    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def json(self, path: str, body: object) -> None:
        self.routes[path] = (200, json.dumps(body).encode())

    def score(self, pgs_id: str, content: bytes, *, md5: str | None = None) -> None:
        ftp = f"/ftp/scores/{pgs_id}/ScoringFiles/Harmonized/{pgs_id}_hmPOS_GRCh38.txt.gz"
        self.json(
            f"/rest/score/{pgs_id}",
            {
                "id": pgs_id,
                "ftp_harmonized_scoring_files": {
                    "GRCh37": {"positions": self.url + ftp.replace("GRCh38", "GRCh37")},
                    "GRCh38": {"positions": self.url + ftp},
                },
            },
        )
        self.routes[ftp] = (200, content)
        digest = md5 or hashlib.md5(content, usedforsecurity=False).hexdigest()
        self.routes[ftp + ".md5"] = (200, f"{digest}  {pgs_id}_hmPOS_GRCh38.txt.gz\n".encode())


def _handler(fake: FakeCatalog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(self.path)
            status, body = fake.routes.get(self.path, (404, b'{"detail": "not found"}'))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class CatalogServer:
    """A stdlib HTTP server in a thread, serving a :class:`FakeCatalog`."""

    def __init__(self) -> None:
        self.state = FakeCatalog()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.state.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
