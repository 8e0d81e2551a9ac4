#!/usr/bin/python3
"""A small real RTSP server for tests and the demo: serves a video file, H.264 over RTP.

Runs under the *system* Python (Debian's python3-gst-1.0 and gir1.2-gst-rtsp-server-1.0;
see scripts/apt-packages.txt), not the project venv:

    /usr/bin/python3 scripts/rtsp_server.py VIDEO [--port 8554] [--path /cam]

Each client gets its own pipeline from the start of the file (decoded by GStreamer's
libav plugins, re-encoded with x264 at low latency, key frame every second), looping
with --loop. Prints "READY rtsp://127.0.0.1:PORT/PATH" once it listens.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--path", default="/cam")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--loop", action="store_true")
    args = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    source = (f"multifilesrc location=\"{args.video}\" loop=true" if args.loop
              else f"filesrc location=\"{args.video}\"")
    factory.set_launch(
        f"( {source} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bitrate=1500 ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    signal.signal(signal.SIGINT, lambda *_: loop.quit())
    GLib.timeout_add(200, lambda: True)  # let Python signal handlers run
    print(f"READY rtsp://{args.host}:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
