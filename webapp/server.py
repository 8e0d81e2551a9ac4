"""Serving the app: Werkzeug's threaded WSGI server with simple-websocket (the
``threading`` async mode, see :mod:`webapp.realtime`), startable in a thread.

``vigil serve``, ``vigil demo``, the benchmark and the tests all use :class:`WebServer`,
so what is tested is what runs.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from webapp import db, realtime

log = logging.getLogger(__name__)


class _RequestHandler(WSGIRequestHandler):
    """Close the TCP connection once a WebSocket ends.

    Otherwise Werkzeug keeps the HTTP/1.1 connection and reads the client's remaining
    WebSocket frames as a new request ("code 400, message Bad request syntax ('\\x88…')"),
    and the client waits seconds for a close frame that never comes.
    """

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()
        finally:
            if self.headers.get("Upgrade", "").lower() == "websocket":
                self.close_connection = True


class WebServer:
    """The app on ``host:port`` (port 0: any free port); ``stop()`` also stops the pump."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 5000) -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True,
                                                  request_handler=_RequestHandler)
        self.host, self.port = host, self.server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> "WebServer":
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, name="vigil-web",
                                        daemon=True)
        self._thread.start()
        log.info("serving on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (or Ctrl-C)."""
        log.info("serving on %s", self.url)
        self.server.serve_forever()

    def stop(self) -> None:
        """Stop accepting, stop the event pump, close the pool."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
        self.server.server_close()
        realtime.shutdown(self.app)
        db.close_pool(self.app)
