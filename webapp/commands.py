"""``vigil serve`` (the map application) and ``vigil bench web`` (alert latency)."""

from __future__ import annotations

import logging

import click

from store.settings import Settings

log = logging.getLogger(__name__)


def print_login(login, url: str) -> None:  # noqa: ANN001 - webapp.access.NewLogin
    """Show newly created credentials once (they are stored only hashed)."""
    click.echo(f"  map:        {url}/")
    click.echo(f"  sign in:    user {login.username!r}, password {login.password!r}")
    click.echo(f"  map wall:   {url}/wall?token={login.wall_token}")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: settings web_host).")
@click.option("--port", type=int, default=None, help="Port (default: settings web_port).")
@click.option("--reset-login", is_flag=True,
              help="Make a new admin password and wall token (the old ones stop working).")
@click.option("--maintenance/--no-maintenance", default=True, show_default=True,
              help="Also keep the store in shape (heatmap rollups every few seconds, "
                   "partitions ahead and retention hourly).")
@click.pass_obj
def serve_command(settings: Settings, host: str | None, port: int | None,
                  reset_login: bool, maintenance: bool) -> None:
    """Serve the map application (migrating the database first)."""
    from store.db import open_database
    from store.maintenance import Maintainer
    from store.migrate import upgrade
    from webapp import create_app
    from webapp.auth.bootstrap import ensure_first_admin
    from webapp.server import WebServer

    host = host or settings.web_host
    port = settings.web_port if port is None else port
    with open_database(settings) as url:
        upgrade(url, settings.migrations_dir,
                partitions_ahead_days=settings.partitions_ahead_days)
        login_file = settings.state_dir / "web_login.json"      # legacy: imported once
        login = ensure_first_admin(url, reset=reset_login, login_file=login_file)
        app = create_app({"SETTINGS": settings, "DATABASE_URL": url, "LOGIN_FILE": None})
        server = WebServer(app, host, port)
        maintainer = Maintainer(url, settings).start() if maintenance else None
        click.echo(f"vigil map application on {server.url}/")
        if login is not None:
            print_login(login, server.url)
        else:
            click.echo("  logins: the users table (vigil users list; vigil serve "
                       "--reset-login for a new admin login and wall token)")
        try:
            server.serve_forever()       # returns on Ctrl-C (Werkzeug catches it)
        except KeyboardInterrupt:
            pass
        finally:
            click.echo("stopping")
            server.stop()
            if maintainer is not None:
                maintainer.stop()


@click.command("web")
@click.option("--clients", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--rate", default=200, show_default=True, type=click.IntRange(1, 5000),
              help="Alerts committed per second.")
@click.option("--seconds", default=10, show_default=True, type=click.IntRange(1, 120))
@click.option("--batch-ms", default=None, type=click.IntRange(1, 1000),
              help="Commit every this many ms (default: settings writer_batch_ms, as the "
                   "writer does).")
@click.option("--async-mode", type=click.Choice(["threading", "gevent"]), default="threading",
              show_default=True, help="gevent: the server in a monkey-patched child process "
                                      "(gevent must be importable; it is not a dependency).")
@click.pass_obj
def web_bench(settings: Settings, clients: int, rate: int, seconds: int,
              batch_ms: int | None, async_mode: str) -> None:
    """Alert latency from row commit to receipt by N Socket.IO clients (loopback)."""
    from webapp.bench import run_web_bench
    result = run_web_bench(settings, clients=clients, rate=rate, seconds=seconds,
                           batch_ms=batch_ms or settings.writer_batch_ms,
                           async_mode=async_mode)
    for line in result.report():
        click.echo(line)
