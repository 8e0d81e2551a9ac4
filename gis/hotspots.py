"""Hotspots for planners: Getis-Ord Gi* on incidents per watched camera-hour.

Raw incident counts mostly show where the cameras are. So every count is divided by the
camera-hours that watched the place: each camera's online hours in the period (from its
heartbeats) are shared among the grid cells (and wards) its field of view covers, in
proportion to the area of the view that falls in each. The rate of a cell or ward is
then "incidents per watched hour", and a ward with twice the cameras is not a false
hotspot.

The local statistic is Getis-Ord Gi* (Getis & Ord 1992; Ord & Getis 1995) with binary
weights: for cells the 3×3 block of 250 m cells around each (itself included), for wards
the wards touching it (itself included). Only watched cells/wards take part (an area no
camera sees has no rate). Gi* is a z-score; p-values are two-sided normal, and q-values
apply Benjamini-Hochberg across the areas tested, since hundreds of cells are tested at
once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import stats

from gis import grid
from gis.coverage import camera_fovs

log = logging.getLogger(__name__)

#: Vietnam keeps UTC+7 all year (no daylight saving).
VN_UTC_OFFSET_H = 7
#: Below this many watched camera-hours a cell's rate is too noisy to test.
MIN_EXPOSURE_H = 0.5
#: Gi* needs at least this many watched cells (and not all with the same rate).
MIN_TESTED_AREAS = 3
#: With fewer incidents in watched areas than this, Gi*'s normal approximation does not
#: hold (one incident among empty cells comes out "significant"): the areas are not
#: tested and a report says why. A rule of thumb, not a test.
FEW_INCIDENTS = 30

Progress = Callable[[str, float], None]


@dataclass
class HotspotResult:
    """Per-cell and per-ward statistics and the weekly profile of one period."""

    since: datetime
    until: datetime
    cells: pd.DataFrame    # cell_id, lon, lat, n, exposure_h, rate, z, p, q, category
    wards: pd.DataFrame    # ward_id, name, n, exposure_h, rate, z, p, q, category
    profile: np.ndarray    # (7, 24) incident counts, Monday first, local time (UTC+7)
    n_incidents: int
    n_unwatched: int       # incidents in cells no camera-hour was attributed to
    assumed_full_time: list[str] = field(default_factory=list)
    camera_hours: float = 0.0      # watched camera-hours of the period, all cameras
    min_exposure_h: float = MIN_EXPOSURE_H

    @property
    def n_tested_cells(self) -> int:
        """Cells watched long enough for their rate to be tested."""
        return int(self.cells["rate"].notna().sum())

    def hot_cells(self) -> pd.DataFrame:
        """The significant hotspot cells (p < 0.10, z > 0), highest z first."""
        return self.cells[self.cells["category"].astype(str).str.startswith("hot")]

    def hot_wards(self) -> pd.DataFrame:
        """The significant hotspot wards, highest z first."""
        if not len(self.wards):
            return self.wards
        return self.wards[self.wards["category"].astype(str).str.startswith("hot")]

    def no_hotspot_reason(self) -> tuple[str, dict[str, float]] | None:
        """Why no cell is a significant hotspot, as (code, numbers); None when one is.

        Codes: ``no_incidents``; ``no_camera_hours`` (no camera watched in the period);
        ``few_cells`` (fewer than ``MIN_TESTED_AREAS`` cells watched ≥ ``min_exposure_h``);
        ``few_incidents`` (fewer than ``FEW_INCIDENTS`` incidents in watched cells, which
        are then not tested); ``uniform`` (every watched cell has the same rate);
        ``not_clustered`` (enough data, incidents are simply not concentrated beyond chance).
        """
        if len(self.hot_cells()):
            return None
        watched = self.n_incidents - self.n_unwatched
        numbers = {"incidents": self.n_incidents, "watched_incidents": watched,
                   "camera_hours": self.camera_hours, "tested_cells": self.n_tested_cells,
                   "min_cells": MIN_TESTED_AREAS, "min_exposure_h": self.min_exposure_h,
                   "few_incidents": FEW_INCIDENTS}
        if self.n_incidents == 0:
            return "no_incidents", numbers
        if self.camera_hours <= 0:
            return "no_camera_hours", numbers
        if self.n_tested_cells < MIN_TESTED_AREAS:
            return "few_cells", numbers
        if watched < FEW_INCIDENTS:
            return "few_incidents", numbers
        if not np.isfinite(self.cells["z"].to_numpy(dtype=float)).any():
            return "uniform", numbers
        return "not_clustered", numbers


def getis_ord_gi_star(values: np.ndarray, neighbours: Sequence[np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided p-values; ``neighbours[i]`` are indices (including i).

    Binary weights. Returns NaN where the statistic is undefined (fewer than 3 areas, or
    all values equal).
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    z = np.full(n, np.nan)
    if n < MIN_TESTED_AREAS:
        return z, np.full(n, np.nan)
    mean = x.mean()
    s = x.std()  # two-pass: exactly 0 for equal values, where E[x²] − x̄² leaves rounding
    if not np.isfinite(s) or s <= 1e-12 * max(abs(mean), 1.0):
        return z, np.full(n, np.nan)
    for i, nb in enumerate(neighbours):
        w = float(len(nb))  # Σw = Σw² for binary weights
        num = x[nb].sum() - mean * w
        den = s * np.sqrt((n * w - w * w) / (n - 1))
        z[i] = num / den if den > 0 else np.nan
    p = 2.0 * stats.norm.sf(np.abs(z))
    return z, p


def _q_values(p: np.ndarray) -> np.ndarray:
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def categorise(z: np.ndarray, p: np.ndarray, n: np.ndarray | None = None) -> np.ndarray:
    """'hot-99', 'hot-95', 'hot-90', 'cold-…' or 'ns' (not significant) per area.

    With incident counts ``n``, an area without incidents is never a hotspot: Gi* rates
    an empty cell high when its neighbours are busy, but a planner reading "hotspot" on a
    place where nothing happened is misled (the busy neighbours are the hotspots).
    """
    out = np.full(z.shape, "ns", dtype=object)
    has = np.ones(z.shape, dtype=bool) if n is None else np.asarray(n) > 0
    for level, alpha in (("90", 0.10), ("95", 0.05), ("99", 0.01)):
        sig = np.isfinite(p) & (p < alpha)
        out[sig & (z > 0) & has] = f"hot-{level}"
        out[sig & (z < 0)] = f"cold-{level}"
    return out


def camera_exposure(cameras: Sequence[dict], hours: dict[str, float], frame_size=(1920, 1080),
                    buffer_m: float = 50.0) -> list[tuple[str, shapely.Geometry, float]]:
    """(camera id, field of view in UTM metres, watched hours) of cameras that watched."""
    out = []
    for cam, fov in zip(cameras, camera_fovs(cameras, frame_size)):
        h = float(hours.get(cam["id"], 0.0))
        if h <= 0 or fov is None or fov.is_empty:
            continue
        utm = shapely.transform(fov, lambda c: np.column_stack(grid.to_utm(c[:, 0], c[:, 1])))
        # events are located by detections that may sit just outside a nominal sector
        out.append((cam["id"], utm.buffer(buffer_m) if buffer_m else utm, h))
    return out


def cell_exposure(exposure: Sequence[tuple[str, shapely.Geometry, float]]) -> pd.Series:
    """Watched camera-hours per cell id: each camera's hours shared by FOV area per cell."""
    acc: dict[int, float] = {}
    size = grid.CELL_SIZE_M
    for _, fov, hours in exposure:
        x0, y0, x1, y1 = fov.bounds
        cols = np.arange(int(np.floor(x0 / size)), int(np.floor(x1 / size)) + 1)
        rows = np.arange(int(np.floor(y0 / size)), int(np.floor(y1 / size)) + 1)
        cc, rr = np.meshgrid(cols, rows)
        cc, rr = cc.ravel(), rr.ravel()
        boxes = shapely.box(cc * size, rr * size, (cc + 1) * size, (rr + 1) * size)
        share = shapely.area(shapely.intersection(boxes, fov)) / fov.area
        for cid, sh in zip(grid.pack(cc, rr).tolist(), share.tolist()):
            if sh > 0:
                acc[cid] = acc.get(cid, 0.0) + hours * sh
    return pd.Series(acc, dtype=float, name="exposure_h")


def area_exposure(exposure: Sequence[tuple[str, shapely.Geometry, float]],
                  areas: gpd.GeoDataFrame) -> pd.Series:
    """Watched camera-hours per area id (wards or zones), shared by FOV area."""
    utm = areas.to_crs(grid.UTM_CRS)
    geoms = utm.geometry.to_numpy()
    acc = np.zeros(len(utm))
    tree = shapely.STRtree(geoms)
    for _, fov, hours in exposure:
        idx = tree.query(fov, predicate="intersects")
        if idx.size:
            acc[idx] += hours * shapely.area(shapely.intersection(geoms[idx], fov)) / fov.area
    return pd.Series(acc, index=utm["id"].to_numpy(), name="exposure_h")


def _rates(n: pd.Series, exposure: pd.Series, min_exposure_h: float) -> pd.DataFrame:
    df = pd.DataFrame({"n": n, "exposure_h": exposure}).fillna(0.0)
    df["n"] = df["n"].astype(int)
    watched = df["exposure_h"] >= min_exposure_h
    df["rate"] = np.where(watched, df["n"] / df["exposure_h"].where(watched, 1.0), np.nan)
    return df


def cell_hotspots(cell_ids: np.ndarray, exposure: pd.Series,
                  min_exposure_h: float = MIN_EXPOSURE_H,
                  min_incidents: int = FEW_INCIDENTS) -> pd.DataFrame:
    """Gi* per watched cell of the incidents (``cell_ids``) per watched camera-hour
    (not tested, z and p NaN, when watched cells hold fewer than ``min_incidents``)."""
    counts = pd.Series(cell_ids).value_counts()
    df = _rates(counts, exposure, min_exposure_h)
    df.index.name = "cell_id"
    tested = df[df["rate"].notna()]
    z = np.full(len(df), np.nan)
    p = np.full(len(df), np.nan)
    if len(tested) and tested["n"].sum() >= min_incidents:
        ids = tested.index.to_numpy(dtype=np.int64)
        pos = pd.Series(np.arange(len(ids)), index=ids)
        nb = grid.neighbour_ids(ids)
        neighbours = [pos.reindex(row).dropna().to_numpy(dtype=int) for row in nb]
        tz, tp = getis_ord_gi_star(tested["rate"].to_numpy(), neighbours)
        where = df.index.get_indexer(ids)
        z[where], p[where] = tz, tp
    df["z"], df["p"] = z, p
    df["q"] = _q_values(p)
    df["category"] = categorise(z, p, df["n"].to_numpy())
    lon, lat = grid.cell_center(df.index.to_numpy(dtype=np.int64))
    df.insert(0, "lat", lat)
    df.insert(0, "lon", lon)
    return df.reset_index().sort_values(["z", "n"], ascending=False, na_position="last")


def ward_hotspots(ward_of_incident: np.ndarray, wards: gpd.GeoDataFrame, exposure: pd.Series,
                  min_exposure_h: float = MIN_EXPOSURE_H,
                  min_incidents: int = FEW_INCIDENTS) -> pd.DataFrame:
    """Gi* per watched ward, neighbours by shared boundary (queen contiguity); not tested
    when watched wards hold fewer than ``min_incidents``."""
    counts = pd.Series([w for w in ward_of_incident if w is not None], dtype=object).value_counts()
    df = _rates(counts.reindex(wards["id"]).fillna(0), exposure.reindex(wards["id"]),
                min_exposure_h)
    df.index.name = "ward_id"
    utm = wards.to_crs(grid.UTM_CRS).set_index("id")
    tested = df[df["rate"].notna()].index.to_list()
    z = pd.Series(np.nan, index=df.index)
    p = pd.Series(np.nan, index=df.index)
    if tested and df.loc[tested, "n"].sum() >= min_incidents:
        geoms = utm.geometry.loc[tested].buffer(1.0).to_numpy()  # touch despite rounding
        tree = shapely.STRtree(geoms)
        neighbours = [tree.query(g, predicate="intersects") for g in geoms]
        tz, tp = getis_ord_gi_star(df.loc[tested, "rate"].to_numpy(), neighbours)
        z.loc[tested], p.loc[tested] = tz, tp
    df["z"], df["p"] = z.to_numpy(), p.to_numpy()
    df["q"] = _q_values(df["p"].to_numpy())
    df["category"] = categorise(df["z"].to_numpy(), df["p"].to_numpy(), df["n"].to_numpy())
    df.insert(0, "name", wards.set_index("id")["name"].reindex(df.index).to_numpy())
    return df.reset_index().sort_values(["z", "n"], ascending=False, na_position="last")


def time_profile(ts: np.ndarray) -> np.ndarray:
    """Incident counts by (day of week, local hour): shape (7, 24), Monday = row 0."""
    ts = np.asarray(ts, dtype="datetime64[s]")
    local = ts + np.timedelta64(VN_UTC_OFFSET_H, "h")
    hours = (local.astype("datetime64[h]").astype(np.int64) % 24).astype(int)
    days = local.astype("datetime64[D]").astype(np.int64)
    dow = ((days + 3) % 7).astype(int)  # 1970-01-01 was a Thursday (3 with Monday = 0)
    out = np.zeros((7, 24), dtype=np.int64)
    np.add.at(out, (dow, hours), 1)
    return out


def analyse(incidents: dict[str, np.ndarray], cameras: Sequence[dict],
            watched_hours: dict[str, float], wards: gpd.GeoDataFrame, since: datetime,
            until: datetime, progress: Progress | None = None,
            min_exposure_h: float = MIN_EXPOSURE_H) -> HotspotResult:
    """Cell and ward hotspots of ``incidents`` (columns: ts, lon, lat, ward_id, cell_id).

    Cameras with no heartbeat in the period but enabled and not disabled are assumed to
    have watched the whole period (listed in ``assumed_full_time``), so a deployment
    without heartbeats still gets a (cruder) normalisation.
    """
    step = progress or (lambda _msg, _frac: None)
    period_h = (until - since).total_seconds() / 3600.0
    hours = dict(watched_hours)
    assumed = [c["id"] for c in cameras if c["id"] not in hours and c.get("enabled", True)
               and c.get("status") != "disabled"]
    for cid in assumed:
        hours[cid] = period_h
    step("fields of view", 0.1)
    exposure = camera_exposure(cameras, hours)
    step("cell exposure", 0.3)
    cells_exp = cell_exposure(exposure)
    cell_ids = np.asarray(incidents["cell_id"], dtype=np.int64)
    if (cell_ids < 0).any() and len(cell_ids):
        missing = cell_ids < 0
        cell_ids = cell_ids.copy()
        cell_ids[missing] = grid.cell_ids(incidents["lon"][missing], incidents["lat"][missing])
    step("cell statistics", 0.5)
    cells = cell_hotspots(cell_ids, cells_exp, min_exposure_h)
    unwatched = int(cells.loc[cells["rate"].isna(), "n"].sum())
    step("ward statistics", 0.75)
    ward_exp = area_exposure(exposure, wards) if len(wards) else pd.Series(dtype=float)
    ward_df = ward_hotspots(np.asarray(incidents["ward_id"], dtype=object), wards, ward_exp,
                            min_exposure_h) if len(wards) else pd.DataFrame()
    step("weekly profile", 0.9)
    profile = time_profile(incidents["ts"])
    step("done", 1.0)
    return HotspotResult(since, until, cells, ward_df, profile, int(len(cell_ids)), unwatched,
                         assumed, camera_hours=float(sum(h for _, _, h in exposure)),
                         min_exposure_h=min_exposure_h)
