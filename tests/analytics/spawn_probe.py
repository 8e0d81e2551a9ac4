"""Run as ``python -m tests.analytics.spawn_probe OUT``: a main module that, like the
``vigil`` CLI, imports the web app, then spawns one worker process that writes the
top-level modules it has loaded to OUT (see test_worker)."""

from __future__ import annotations

import sys
from pathlib import Path

from analytics.worker import Worker

if __name__ in ("__main__", "__mp_main__"):  # the CLI's imports, in whoever runs this as main
    import flask  # noqa: F401


class ProbeWorker(Worker):
    """A worker whose run() only reports what its process imported."""

    def run(self) -> None:
        Path(self.config.out).write_text("\n".join(sorted({m.partition(".")[0]
                                                        for m in sys.modules})))


if __name__ == "__main__":
    import multiprocessing as mp
    from types import SimpleNamespace

    # the class by its importable name (as the supervisor's Worker is), not __main__'s
    from tests.analytics.spawn_probe import ProbeWorker as Probe

    w = Probe(SimpleNamespace(name="probe", out=sys.argv[1]),  # type: ignore[arg-type]
              mp.get_context("spawn").Event())
    w.start()
    w.join(120)
    sys.exit(w.exitcode)
