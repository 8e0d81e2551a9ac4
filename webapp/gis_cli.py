"""``vigil gis …`` (ward/zone data in the store) and ``vigil report hotspots`` (planners)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from gis.boundaries import PROVINCES, LayerError, load_shipped, read_layer
from store import area_plan, areas
from store.db import connect, open_database
from store.model import EVENT_KINDS
from store.settings import Settings

log = logging.getLogger(__name__)


@click.group("gis")
def gis_group() -> None:
    """Wards and zones: import official boundaries or load the shipped approximations."""


#: Cameras listed per group in an import plan; the rest are counted.
PLAN_CAMERAS_SHOWN = 20


def _names(areas_: tuple, limit: int = PLAN_CAMERAS_SHOWN) -> str:
    shown = ", ".join(str(a) for a in areas_[:limit])
    return shown + (f", … and {len(areas_) - limit} more" if len(areas_) > limit else "")


def _plan_lines(plan: area_plan.AreaPlan) -> list[str]:
    """The plan of an import, one line per group that is not empty."""
    noun = plan.kind[:-1]
    lines = [f"  {label} ({len(group)}): {_names(group)}" for label, group in
             (("added", plan.added), ("removed", plan.removed),
              ("boundary changed", plan.redrawn)) if group]
    lines += [f"  renamed: {old!r} → {area}" for old, area in plan.renamed]
    lines.append(f"  unchanged: {plan.unchanged}")
    groups = {"lose": [], "change": [], "gain": []}
    for cam in plan.cameras:
        groups["lose" if cam.loses and not cam.after else
               "gain" if not cam.before else "change"].append(cam)
    for key, label in (("lose", f"would lose their {noun}"),
                       ("change", f"would change {noun}"), ("gain", f"would gain a {noun}")):
        cams = groups[key]
        if cams:
            lines.append(f"  cameras that {label} ({len(cams)}):")
            lines += [f"    {c.name} ({c.id}): {_names(c.before) or 'none'} → "
                      f"{_names(c.after) or 'none'}" for c in cams[:PLAN_CAMERAS_SHOWN]]
            if len(cams) > PLAN_CAMERAS_SHOWN:
                lines.append(f"    … and {len(cams) - PLAN_CAMERAS_SHOWN} more")
    if plan.events_keeping_tags:
        lines.append(f"  past events tagged with a removed or re-drawn {noun}: "
                     f"{plan.events_keeping_tags} (they keep it: events are history)")
    return lines


@gis_group.command("import")
@click.argument("kind", type=click.Choice(["wards", "zones"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--province", type=click.Choice(PROVINCES),
              help="Province the wards (or zones) belong to; only its rows are replaced.")
@click.option("--crs", help="CRS of the file when it has none or a wrong one (EPSG:3405 …).")
@click.option("--name-field", help="Column holding the name (default: name, ten, …).")
@click.option("--id-field", help="Column holding the id (default: id, ma, …; else from name).")
@click.option("--replace", is_flag=True,
              help="Also remove the wards (zones) of the province that FILE lacks.")
@click.option("--dry-run", is_flag=True, help="Only show what would change; write nothing.")
@click.pass_obj
def gis_import(settings: Settings, kind: str, file: Path, province: str | None,
               crs: str | None, name_field: str | None, id_field: str | None,
               replace: bool, dry_run: bool) -> None:
    """Import wards or zones from FILE (GeoJSON, Shapefile or GeoPackage), all or nothing.

    First shows what would change (areas added, removed, re-drawn; cameras whose ward or
    zones would change; past events that keep their tags); removing areas the file lacks
    needs --replace. Cameras are then re-tagged from their positions; stored events are
    history and keep the tags they were written with.
    """
    try:
        layer = read_layer(file, kind, province=province, name_field=name_field,
                           id_field=id_field, crs=crs)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None
    for rec in layer.itertuples(index=False):
        if rec.properties.get("repair"):
            click.echo(f"{file}: {kind[:-1]} {rec.name!r} ({rec.id}) was an invalid polygon, "
                       f"repaired: {rec.properties['repair']}")
    scope = province or "every province"
    with open_database(settings) as url, connect(url) as conn:
        if not id_field:
            layer = area_plan.adopt_stored_ids(conn, layer, kind, province)
        plan = (area_plan.plan_wards(conn, layer, province) if kind == "wards"
                else area_plan.plan_zones(conn, layer, province))
        click.echo(f"{file}: {kind} of {scope}:")
        for line in _plan_lines(plan):
            click.echo(line)
        if dry_run:
            click.echo("dry run: nothing written")
            return
        if plan.removed and not replace:
            raise click.ClickException(
                f"{file} lacks {len(plan.removed)} of the {kind} of {scope} in the store "
                f"({_names(plan.removed, 5)}); importing it would remove them. Nothing was "
                f"written. Give --replace to remove them, or import a file with every "
                f"{kind[:-1]} of {scope}.")
        try:
            if kind == "wards":
                res = areas.replace_wards(conn, layer, province)
            else:
                res = areas.replace_zones(conn, layer, province)
            conn.commit()
        except ValueError as exc:
            raise click.ClickException(f"{file}: {exc}") from None
    click.echo(f"{kind}: {res.deleted} replaced by {res.inserted}; "
               f"{res.cameras_retagged} cameras re-tagged; {plan.events_keeping_tags} past "
               f"events keep their old {kind[:-1]}; area version {res.area_version}")


@gis_group.command("load-shipped")
@click.argument("province", type=click.Choice(PROVINCES))
@click.pass_obj
def gis_load_shipped(settings: Settings, province: str) -> None:
    """Load vigil's approximate wards and zones of PROVINCE into the store."""
    wards, zones = load_shipped(province)
    with open_database(settings) as url, connect(url) as conn:
        areas.replace_wards(conn, wards, province)
        res = areas.replace_zones(conn, zones, province)
        conn.commit()
    click.echo(f"{province}: {len(wards)} wards, {len(zones)} zones (approximate); "
               f"area version {res.area_version}")


@click.group("report")
def report_group() -> None:
    """Reports for planners."""


_TIMES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


@report_group.command("hotspots")
@click.option("--from", "since", required=True, type=click.DateTime(_TIMES),
              help="Start, inclusive, in the display time zone (Asia/Ho_Chi_Minh).")
@click.option("--to", "until", required=True, type=click.DateTime(_TIMES),
              help="End, exclusive, in the display time zone (Asia/Ho_Chi_Minh).")
@click.option("--ward", "ward_id", help="Only incidents in this ward (id).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(sorted(EVENT_KINDS)),
              help="Event kind(s); default all alert kinds.")
@click.option("--top", "top_n", default=20, show_default=True,
              type=click.IntRange(1, 1000), help="Rows in the top table.")
@click.option("--lang", type=click.Choice(["vi", "en"]),
              help="Language of the report (default: the locale setting, vi).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML report; a CSV of its table is written beside it.")
@click.pass_obj
def report_hotspots(settings: Settings, since: datetime, until: datetime, ward_id: str | None,
                    kinds: tuple[str, ...], top_n: int, lang: str | None, out: Path) -> None:
    """Standalone hotspot report (opens with no network) for a period."""
    import geopandas as gpd
    import shapely

    from gis.coverage import camera_fovs
    from gis.hotspots import analyse
    from gis.report import build_report, write_report
    from webapp.api.export import write_csv
    from webapp.names import kind_label

    lang = lang or settings.locale
    zone = ZoneInfo(settings.timezone)
    since, until = since.replace(tzinfo=zone), until.replace(tzinfo=zone)
    if until <= since:
        raise click.BadParameter("--to must be after --from")

    def progress(msg: str, frac: float) -> None:
        click.echo(f"[{frac * 100:5.1f}%] {msg}", err=True)

    with open_database(settings) as url, connect(url) as conn:
        problem = areas.unknown_wards(conn, [ward_id]) if ward_id else None
        if problem:   # a typo: close matches, before any work
            raise click.ClickException(f"--ward: {problem}")
        progress("reading events", 0.0)
        incidents = areas.incident_points(conn, since, until, kinds, ward_id)
        cameras = [c for c in areas.camera_records(conn) if c["enabled"]]
        hours = areas.watched_hours(conn, since, until)
        wfc = areas.wards_geojson(conn)
        zfc = areas.zones_geojson(conn)
    progress(f"{len(incidents['ts'])} incidents, {len(cameras)} cameras", 0.05)
    wards = gpd.GeoDataFrame.from_features(wfc["features"], crs=4326)
    zones = gpd.GeoDataFrame.from_features(zfc["features"], crs=4326)
    if ward_id:
        wards = wards[wards["id"] == ward_id]
        if not len(wards):
            raise click.ClickException(f"--ward {ward_id!r}: no such ward in the store "
                                       "(the ids are those of /api/v1/wards)")
        area = wards.geometry.iloc[0]
        cameras = [c for c in cameras if c["ward_id"] == ward_id
                   or area.intersects(shapely.Point(c["lon"], c["lat"]))]
    stage = lambda m, f: progress(m, 0.05 + 0.45 * f)  # noqa: E731
    result = analyse(incidents, cameras, hours, wards, since, until, progress=stage)
    page, table = build_report(result, wards, camera_fovs(cameras), incidents, zones=zones,
                               lang=lang, tz=settings.timezone,
                               ward_ids=[ward_id] if ward_id else [],
                               kind_labels=[kind_label(k, lang) for k in kinds], top_n=top_n,
                               progress=lambda m, f: progress(m, 0.5 + 0.5 * f))
    html_path = write_report(out, page)
    csv_path = write_csv(out.with_suffix(".csv"), list(table.columns),
                         table.itertuples(index=False))
    click.echo(f"wrote {html_path} and {csv_path}")


@gis_group.command("bench")
@click.option("--points", default=1_000_000, show_default=True, help="Points to tag.")
def gis_bench(points: int) -> None:
    """Time tagging, grid cells and homography mapping on the shipped Thanh Hóa layers."""
    import time

    import numpy as np

    from gis import grid
    from gis.homography import Homography
    from gis.tagging import AreaIndex

    wards, zones = load_shipped("thanh-hoa")
    pq_wards, pq_zones = load_shipped("phu-quoc")
    import pandas as pd
    index = AreaIndex.from_frames(pd.concat([wards, pq_wards]), pd.concat([zones, pq_zones]))
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = wards.total_bounds
    lon = rng.uniform(minx, maxx, points)
    lat = rng.uniform(miny, maxy, points)
    t = time.perf_counter()
    w, z = index.tag(lon, lat)
    t_tag = time.perf_counter() - t
    t = time.perf_counter()
    grid.cell_ids(lon, lat)
    t_cell = time.perf_counter() - t
    hom = Homography.fit([[0, 1080], [1920, 1080], [1500, 500], [400, 500]],
                         [[105.7760, 19.8070], [105.7770, 19.8070], [105.7768, 19.8080],
                          [105.7762, 19.8080]])
    px = rng.uniform(0, 1920, (points, 2))
    t = time.perf_counter()
    hom.to_lonlat(px)
    t_hom = time.perf_counter() - t
    tagged = float(np.mean(w != None))  # noqa: E711
    click.echo(f"tag {points:,} points over {len(index.ward_ids)} wards + "
               f"{len(index.zone_ids)} zones: {t_tag:.3f} s ({tagged:.0%} in a ward)")
    click.echo(f"cell_ids {points:,} points: {t_cell:.3f} s")
    click.echo(f"homography pixels → lon/lat {points:,} points: {t_hom:.3f} s")
