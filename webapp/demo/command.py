"""The ``vigil demo`` command (registered in :mod:`webapp.cli`)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from store.settings import Settings, SettingsError
from webapp.demo.orchestration import PROVINCES, Demo, DemoError, DemoOptions, replace_settings


@click.command("demo")
@click.option("--province", type=click.Choice(sorted(PROVINCES)), default="phu-quoc",
              show_default=True, help="Phú Quốc (41 cameras) or Thanh Hóa (≈2,300).")
@click.option("--host", default=None, help="Address to serve on [default: settings' web_host].")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to serve on, 0 for any free one [default: settings' web_port].")
@click.option("--no-workers", is_flag=True,
              help="No real analytics: the simulator drives every camera.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop by itself after this many seconds.")
@click.option("--history-hours", type=click.FloatRange(min=0), default=24.0, show_default=True,
              help="Hours of simulated history written at start (only the gap since the "
                   "last run).")
@click.option("--rate", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Multiplier on the simulator's event rates.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="State directory for the demo [default: <state_dir>/demo/<province>].")
@click.option("--allow-external-database", is_flag=True,
              help="Run on VIGIL_DATABASE_URL although the demo replaces its wards, zones "
                   "and cameras.")
@click.option("--password", default=None,
              help="Admin password to set [default: a new random one each run].")
@click.pass_obj
def demo_command(settings: Settings, province: str, host: str | None, port: int | None,
                 no_workers: bool, duration: float | None, history_hours: float, rate: float,
                 state_dir: Path | None, allow_external_database: bool,
                 password: str | None) -> None:
    """Run everything with sample data: database, real workers, SIMULATED events, the map."""
    if settings.database_url and not allow_external_database:
        raise click.ClickException(
            "VIGIL_DATABASE_URL is set: the demo would replace that database's wards, zones "
            "and cameras and add simulated events. Unset it to use the demo's own embedded "
            "database, or pass --allow-external-database.")
    try:
        settings = replace_settings(
            settings, state_dir=state_dir or settings.state_dir / "demo" / province)
    except (SettingsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    options = DemoOptions(province=province, host=host or settings.web_host,
                          port=settings.web_port if port is None else port,
                          workers=not no_workers, duration_s=duration,
                          history_hours=history_hours, rate_scale=rate, password=password)
    demo = Demo(settings, options, say=lambda text: click.echo(text, nl=True))
    previous = {}

    presses = []

    def on_signal(signum: int, frame) -> None:  # noqa: ANN001
        presses.append(signum)
        if len(presses) == 1:
            demo.stop()
        elif len(presses) == 2:
            # the stop is under way (the writer is flushing, the database stopping)
            click.echo("vigil demo: already stopping; press Ctrl-C again to abandon the "
                       "orderly stop", err=True)
        else:
            raise KeyboardInterrupt   # unwinds the same steps, without waiting politely

    def install() -> None:
        # after the database has started: its own SIGTERM hook would otherwise stop the
        # server before the writer has flushed
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, on_signal)

    try:
        code = demo.run(on_started=install)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    sys.stdout.flush()
    if code:
        raise SystemExit(code)
