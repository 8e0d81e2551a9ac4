"""``vigil db …`` and ``vigil bench store``: the store's commands."""

from __future__ import annotations

import click

from store import migrate
from store.db import connect, open_database
from store.settings import Settings


@click.group("db")
def db_group() -> None:
    """The event database: migrations, status, maintenance."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Apply pending migrations (starting the embedded PostgreSQL when needed)."""
    with open_database(settings) as url:
        done = migrate.upgrade(url, settings.migrations_dir,
                               partitions_ahead_days=settings.partitions_ahead_days)
    if done:
        for name in done:
            click.echo(f"applied {name}")
    else:
        click.echo("database is up to date")


@db_group.command("status")
@click.pass_obj
def db_status(settings: Settings) -> None:
    """Show applied and pending migrations."""
    with open_database(settings) as url:
        st = migrate.status(url, settings.migrations_dir)
    click.echo(f"layout: {'TimescaleDB hypertable' if st.timescaledb else 'native partitions'}")
    for version, name, at in st.applied:
        click.echo(f"applied  {name}.sql  {at:%Y-%m-%d %H:%M:%S %Z}")
    for name in st.pending:
        click.echo(f"pending  {name}")
    for name in st.repeatable_pending:
        click.echo(f"pending  repeatable/{name}")
    for name in st.changed:
        click.echo(f"CHANGED  {name}  (edited after it was applied)")
    if st.pending or st.repeatable_pending:
        raise SystemExit(1)


@db_group.command("maintain")
@click.pass_obj
def db_maintain(settings: Settings) -> None:
    """Make partitions ahead, apply retention and refresh the heatmap rollups."""
    with open_database(settings) as url, connect(url, autocommit=True) as conn:
        made = migrate.ensure_partitions(conn, ahead_days=settings.partitions_ahead_days)
        dropped = conn.execute("SELECT vigil_apply_retention(make_interval(days => %s))",
                               (settings.retention_days,)).fetchone()[0]
        folded = conn.execute("SELECT vigil_refresh_heatmap()").fetchone()[0]
    click.echo(f"partitions made: {made}, dropped: {dropped}; events rolled up: {folded}")


@click.command("store")
@click.option("--events", "n_events", type=int, default=10_000_000, show_default=True,
              help="Generated events for the heatmap query benchmark.")
@click.option("--writer-events", type=int, default=500_000, show_default=True,
              help="GeoEvents pushed through the writer (and raw COPY).")
@click.option("--cameras", type=int, default=2300, show_default=True)
@click.option("--days", type=int, default=30, show_default=True)
@click.option("--queries", type=int, default=100, show_default=True,
              help="Heatmap queries per window length.")
@click.option("--heatmap-only", is_flag=True,
              help="Only time heatmap queries on the previous run's vigil_bench database.")
@click.pass_obj
def store_bench(settings: Settings, n_events: int, writer_events: int, cameras: int,
                days: int, queries: int, heatmap_only: bool) -> None:
    """Writer events/s vs raw binary COPY, and heatmap query p50/p95 (prints figures)."""
    from store.bench import run_bench
    run_bench(settings, n_events=n_events, writer_events=writer_events, cameras=cameras,
              days=days, queries=queries, echo=click.echo, heatmap_only=heatmap_only)
