"""What the hotspot report says, in Vietnamese (first) and English, and how it writes
numbers and times. gis/ stands alone (no Flask-Babel), so the report keeps its own small
table of messages; every name it interpolates is HTML-escaped by :func:`say`.
"""

from __future__ import annotations

import html
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LANGS = ("vi", "en")

#: Gi* categories, in legend order: (colour, Vietnamese, English).
CATEGORIES = {
    "hot-99": ("#b2182b", "Điểm nóng, tin cậy 99%", "Hotspot, 99% confidence"),
    "hot-95": ("#ef8a62", "Điểm nóng, tin cậy 95%", "Hotspot, 95% confidence"),
    "hot-90": ("#fddbc7", "Điểm nóng, tin cậy 90%", "Hotspot, 90% confidence"),
    "cold-90": ("#d1e5f0", "Điểm lạnh, tin cậy 90%", "Coldspot, 90% confidence"),
    "cold-95": ("#67a9cf", "Điểm lạnh, tin cậy 95%", "Coldspot, 95% confidence"),
    "cold-99": ("#2166ac", "Điểm lạnh, tin cậy 99%", "Coldspot, 99% confidence"),
}
NOT_SIGNIFICANT = ("Không có ý nghĩa thống kê", "Not significant")
NOT_TESTED = ("Không đủ dữ liệu để kiểm định", "Too little data to test")

ZONE_KINDS = {
    "port": ("Cảng", "Port"), "airport": ("Sân bay", "Airport"),
    "market": ("Chợ", "Market"), "square": ("Quảng trường", "Square"),
    "casino": ("Sòng bạc", "Casino"), "tourist_area": ("Khu du lịch", "Tourist area"),
    "critical_site": ("Mục tiêu trọng yếu", "Critical site"),
    "geofence": ("Vùng cảnh báo", "Geofence"),
}

_WEEKDAYS = {"vi": ["T2", "T3", "T4", "T5", "T6", "T7", "CN"],
             "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}

MESSAGES: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo điểm nóng", "Hotspot report"),
    "period": ("Kỳ", "Period"),
    "local_time": ("giờ Việt Nam", "Vietnam time"),
    "all_areas": ("mọi phường", "all wards"),
    "all_kinds": ("mọi loại cảnh báo", "all alert kinds"),
    "ward": ("phường {name}", "ward(s) {name}"),
    "kinds": ("loại: {names}", "kinds: {names}"),
    "counts": ("{incidents} sự việc · {cameras} camera · {hours} giờ camera quan sát",
               "{incidents} incidents · {cameras} cameras · {hours} watched camera-hours"),
    "hot_counts": ("<b id='hot-count'>{cells}</b> ô lưới và <b id='hot-wards'>{wards}</b> "
                   "phường là điểm nóng có ý nghĩa thống kê (p < 0,10)",
                   "<b id='hot-count'>{cells}</b> grid cells and <b id='hot-wards'>{wards}"
                   "</b> wards are statistically significant hotspots (p < 0.10)"),
    "none": ("Không có điểm nóng có ý nghĩa thống kê trong kỳ này.",
             "No statistically significant hotspot in this period."),
    "none.cells": ("Không ô lưới nào là điểm nóng có ý nghĩa thống kê (chỉ phường).",
                   "No grid cell is a statistically significant hotspot (only wards are)."),
    "why.no_incidents": ("Không có sự việc nào khớp bộ lọc trong kỳ.",
                         "No incident matches the filters in the period."),
    "why.no_camera_hours": (
        "Không camera nào được ghi nhận là đang quan sát trong kỳ (0 giờ camera), nên không "
        "tính được tỷ lệ sự việc trên giờ quan sát.",
        "No camera is recorded as watching in the period (0 camera-hours), so no rate of "
        "incidents per watched hour can be computed."),
    "why.few_cells": (
        "Quá ít giờ camera quan sát: chỉ {tested_cells} ô lưới có ít nhất {min_exposure_h} "
        "giờ camera, phép thử Gi* cần ít nhất {min_cells} ô.",
        "Too few watched camera-hours: only {tested_cells} grid cells were watched for at "
        "least {min_exposure_h} camera-hours; the Gi* statistic needs at least {min_cells}."),
    "why.uniform": (
        "Mọi ô được quan sát có cùng tỷ lệ sự việc trên giờ quan sát: không nơi nào nổi bật.",
        "Every watched cell has the same rate of incidents per watched hour: nowhere stands "
        "out."),
    "why.few_incidents": (
        "Quá ít sự việc để phân biệt cụm với ngẫu nhiên: {watched_incidents} sự việc trong "
        "vùng được quan sát (nên có từ {few_incidents} trở lên).",
        "Too few incidents to tell a cluster from chance: {watched_incidents} incidents in "
        "watched cells (about {few_incidents} or more are needed)."),
    "why.not_clustered": (
        "Có đủ dữ liệu ({watched_incidents} sự việc, {tested_cells} ô được quan sát) nhưng sự "
        "việc không tập trung hơn mức ngẫu nhiên ở ô nào.",
        "There is enough data ({watched_incidents} incidents, {tested_cells} watched cells) "
        "but incidents are not concentrated beyond chance anywhere."),
    "method": (
        "Tỷ lệ = số sự việc trên mỗi giờ camera thực sự quan sát; điểm nóng theo Getis-Ord "
        "Gi* (ô {cell} m, láng giềng 3×3; phường: phường kề nhau). Chỉ tô màu những nơi có ý "
        "nghĩa thống kê.",
        "Rate = incidents per camera-hour actually watched; hotspots by Getis-Ord Gi* ({cell} "
        "m cells, 3×3 neighbours; wards: adjoining wards). Only significant places are "
        "coloured."),
    "unwatched": ("{n} sự việc nằm ở nơi không camera nào quan sát đủ giờ.",
                  "{n} incidents lie where no camera watched long enough."),
    "approx": ("Ranh giới phường là <b>XẤP XỈ</b> (Voronoi từ tâm phường) trừ khi đã nhập dữ "
               "liệu chính thức.",
               "Ward boundaries are <b>APPROXIMATE</b> (Voronoi from ward centres) unless "
               "official data was imported."),
    "assumed": ("{n} camera không có nhịp tim (heartbeat) trong kỳ: coi như quan sát cả kỳ.",
                "{n} cameras without heartbeats in the period are assumed to have watched "
                "all of it."),
    "legend": ("Chú giải", "Legend"),
    "legend.none": ("Không nơi nào có ý nghĩa thống kê: không tô màu.",
                    "Nothing is significant: nothing is coloured."),
    "legend.coverage": ("Vùng camera thấy", "Camera coverage"),
    "legend.wards": ("Phường (ranh giới xấp xỉ)", "Wards (approximate boundaries)"),
    "layer.wards": ("Phường (xấp xỉ)", "Wards (approximate)"),
    "layer.coverage": ("Vùng camera thấy", "Camera coverage"),
    "layer.zones": ("Khu vực trọng điểm", "Zones"),
    "layer.heat": ("Mật độ sự việc thô (chưa chia giờ quan sát)",
                   "Raw incident density (not per watched hour)"),
    "layer.cells": ("Ô điểm nóng / điểm lạnh (Gi*)", "Hotspot / coldspot cells (Gi*)"),
    "tip.ward": ("Phường", "Ward"), "tip.incidents": ("Sự việc", "Incidents"),
    "tip.rate": ("Sự việc/giờ quan sát", "Incidents/watched hour"),
    "tip.z": ("Gi* z", "Gi* z"), "tip.p": ("p", "p"),
    "tip.level": ("Mức", "Level"), "tip.boundary": ("Ranh giới", "Boundary"),
    "tip.zone": ("Khu vực", "Zone"), "tip.kind": ("Loại", "Kind"),
    "approximate": ("xấp xỉ", "approximate"), "official": ("chính thức", "official"),
    "top.title": ("{n} ô lưới có sự việc, xếp theo Gi* z rồi số sự việc",
                  "{n} grid cells with incidents, ranked by Gi* z then incidents"),
    "top.empty": ("Không ô lưới nào có sự việc trong kỳ.",
                  "No grid cell has an incident in the period."),
    "col.rank": ("#", "#"), "col.cell": ("Ô lưới", "Cell"), "col.ward": ("Phường", "Ward"),
    "col.where": ("Vị trí", "Location"), "col.n": ("Sự việc", "Incidents"),
    "col.hours": ("Giờ camera", "Camera-hours"), "col.rate": ("Sự việc/giờ", "Per hour"),
    "col.z": ("z (Gi*)", "z (Gi*)"), "col.p": ("p", "p"), "col.q": ("q (BH)", "q (BH)"),
    "col.level": ("Mức", "Level"),
    "profile": ("Sự việc theo giờ trong tuần (giờ Việt Nam)",
                "Incidents by hour of the week (Vietnam time)"),
}


def check_lang(lang: str) -> str:
    """``lang`` if the report speaks it; ValueError naming it otherwise."""
    if lang not in LANGS:
        raise ValueError(f"report language {lang!r}: expected one of {', '.join(LANGS)}")
    return lang


def pick(pair: tuple[str, str], lang: str) -> str:
    """The Vietnamese or English half of a (vi, en) pair."""
    return pair[0] if lang == "vi" else pair[1]


def number(value: Any, lang: str, digits: int = 0) -> str:
    """A number as the language writes it (vi: 1.234,5; en: 1,234.5); '–' for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    text = f"{value:,.{digits}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def say(key: str, lang: str, **values: Any) -> str:
    """Message ``key`` in ``lang`` with ``values`` put in; strings are HTML-escaped,
    numbers written as the language writes them."""
    def put(v: Any) -> str:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return html.escape(str(v))
        return number(v, lang, 0 if float(v).is_integer() else 1)
    return pick(MESSAGES[key], lang).format(**{k: put(v) for k, v in values.items()})


def category_label(code: str, lang: str) -> str:
    """A Gi* category in words."""
    if code in CATEGORIES:
        return CATEGORIES[code][1 if lang == "vi" else 2]
    return pick(NOT_SIGNIFICANT if code == "ns" else NOT_TESTED, lang)


def zone_kind_label(kind: str, lang: str) -> str:
    """A zone kind in words (the code itself if vigil does not know it)."""
    return pick(ZONE_KINDS[kind], lang) if kind in ZONE_KINDS else str(kind)


def weekdays(lang: str) -> list[str]:
    """Monday-first short day names."""
    return _WEEKDAYS[lang]


def local_time(ts: datetime, tz: str, lang: str) -> str:
    """A UTC (aware) time as a local date and minute."""
    local = ts.astimezone(ZoneInfo(tz))
    return f"{local:%d/%m/%Y %H:%M}" if lang == "vi" else f"{local:%Y-%m-%d %H:%M}"


def utc_offset(ts: datetime, tz: str) -> str:
    """'UTC+7' for Asia/Ho_Chi_Minh."""
    minutes = int(ts.astimezone(ZoneInfo(tz)).utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")
