"""The ``vigil`` command: one entry point; each package contributes its own commands.

Groups: ``db`` (store), ``gis`` and ``report`` (GIS data in the store), ``workers``
(analytics), ``serve`` and ``demo`` (web), ``bench`` (one command per package).
"""

from __future__ import annotations

import logging
import sys

import click

from store.settings import SettingsError, load_settings


@click.group()
@click.version_option(package_name="vigil")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """vigil — camera-AI situational awareness for police command centres."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose + 1, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        ctx.obj = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def bench() -> None:
    """Benchmarks that print figures (not tests)."""


# Each package keeps its commands beside the code they drive; they are gathered here.
# (Only this CLI may import analytics/ from webapp/.)
from analytics.cli import analytics_bench, workers_command  # noqa: E402
from store.cli import db_group, store_bench  # noqa: E402
from webapp.commands import serve_command, web_bench  # noqa: E402
from webapp.demo.command import demo_command  # noqa: E402
from webapp.gis_cli import gis_group, report_group  # noqa: E402
from webapp.recognition_cli import (  # noqa: E402
    hotlist_group, recognition_bench, watchlist_group)
from webapp.users_cli import tokens_group, users_group  # noqa: E402

for _command in (db_group, serve_command, workers_command, demo_command, gis_group,
                 report_group, users_group, tokens_group, watchlist_group, hotlist_group):
    main.add_command(_command)
for _command in (store_bench, analytics_bench, web_bench, recognition_bench):
    bench.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
