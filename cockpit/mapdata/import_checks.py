"""Checks of a boundary file's features: fields, geometry repair, codes, duplicates, merging.

:func:`check_features` takes the features already in WGS-84 and returns what may be stored —
one (Multi)Polygon per code, exterior rings counter-clockwise — with what was repaired, rewound,
merged and rejected (docs/geodata.md, "Importing boundaries"). Nothing here reads files or the
store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cockpit import geo

VILLAGE = "village"
GRID = "grid"
#: A grid code: letters, digits, ``- _ .``; stored in a 64-character column.
GRID_CODE = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: Column names tried in order (case-insensitive) when a field is not given.
CANDIDATES: dict[tuple[str, str], tuple[str, ...]] = {
    (VILLAGE, "code"): ("code", "adcode", "village_code", "villagecode", "qhdm", "xzqdm",
                        "编码", "代码", "行政区划代码", "村社编码", "村编码"),
    (VILLAGE, "name"): ("name", "village_name", "villagename", "qhmc", "xzqmc", "名称", "村名",
                        "村社", "村社名称", "村名称"),
    (GRID, "code"): ("grid_code", "gridcode", "grid_id", "网格编码", "网格代码", "网格编号",
                     "code", "编码", "编号"),
    (GRID, "name"): ("grid_name", "gridname", "网格名称", "网格名", "name", "名称"),
    (GRID, "village"): ("village_code", "village", "village_name", "村社", "村社编码",
                        "所属村社", "村名", "社区", "qhdm", "qhmc"),
}
_OPTIONS = {"code": "--code-field", "name": "--name-field", "village": "--village-field"}


class ImportRefused(ValueError):
    """The whole file is refused (unreadable, unknown CRS, mis-decoded, no valid feature).

    ``rejected`` holds the feature rejections found before the refusal, if any.
    """

    def __init__(self, message: str, rejected: Sequence[Rejected] = ()):
        super().__init__(message)
        self.rejected = list(rejected)


@dataclass(frozen=True)
class Rejected:
    """A feature not imported: its 1-based number in the file, code and name as read, why."""

    row: int
    code: str
    name: str
    reason: str


@dataclass(frozen=True)
class Fields:
    """The columns read: the feature's code, its name, and (grids) the village it belongs to."""

    code: str | None
    name: str | None
    village: str | None = None


@dataclass(frozen=True)
class Feature:
    """One feature to store: a code, its name and village, a valid oriented (Multi)Polygon."""

    code: str
    name: str
    village_code: str
    geometry: shapely.Geometry
    rows: tuple[int, ...]


@dataclass
class Checked:
    """What :func:`check_features` kept, and what it repaired, rewound, merged and rejected."""

    features: list[Feature] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)
    rewound: int = 0
    warnings: list[str] = field(default_factory=list)


def choose_fields(columns: Sequence[str], level: str, code: str | None = None,
                  name: str | None = None, village: str | None = None) -> Fields:
    """Pick the code, name and village columns: the given ones, else the first common name.

    Parameters
    ----------
    columns : sequence of str
        The file's attribute columns.
    level : {"village", "grid"}
        A village file needs a code or a name column; a grid file needs a code column.
    code, name, village : str, optional
        Columns named by ``--code-field``, ``--name-field``, ``--village-field``.

    Returns
    -------
    Fields
        The columns used; None where there is none.

    Raises
    ------
    ImportRefused
        If a given column is missing or a required one cannot be found; the message lists
        the file's fields.
    """
    have = [str(c) for c in columns]
    listed = ", ".join(have) or "none"
    given = {"code": code, "name": name, "village": village}
    chosen: dict[str, str | None] = {}
    for what in ("code", "name", "village"):
        if given[what] is not None:
            if given[what] not in have:
                raise ImportRefused(f"no field {given[what]!r} ({_OPTIONS[what]}); the file has "
                                    f"fields: {listed}")
            chosen[what] = given[what]
            continue
        folded = {c.casefold(): c for c in reversed(have)}
        options = CANDIDATES.get((level, what), ())
        chosen[what] = next((folded[o] for o in options if o in folded), None)
    if level == GRID and chosen["code"] is None:
        raise ImportRefused(f"no grid code field found (tried {', '.join(CANDIDATES[GRID, 'code'])}"
                            f"); the file has fields: {listed}: pass --code-field NAME")
    if level == VILLAGE and chosen["code"] is None and chosen["name"] is None:
        raise ImportRefused("no village code or name field found (tried "
                            f"{', '.join(CANDIDATES[VILLAGE, 'code'])}; "
                            f"{', '.join(CANDIDATES[VILLAGE, 'name'])}); the file has fields: "
                            f"{listed}: pass --code-field or --name-field")
    if chosen["name"] is not None and chosen["name"] == chosen["code"]:
        chosen["name"] = None
    return Fields(chosen["code"], chosen["name"], chosen["village"] if level == GRID else None)


def text(value: object) -> str:
    """A cell as text: None, NaN and NA give ``""``, integral floats lose their ``.0``."""
    if value is None or (pd.api.types.is_scalar(value) and not isinstance(value, str)
                         and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def polygonal(geom: shapely.Geometry | None) -> tuple[shapely.Geometry | None, str | None, str]:
    """Make a feature's geometry a valid (Multi)Polygon.

    Returns
    -------
    tuple
        ``(geometry, repaired, rejected)``: the polygonal geometry or None; the
        ``shapely.is_valid_reason`` of an invalid input made valid (``shapely.make_valid``,
        polygonal parts kept), else None; the reason of a rejection, else ``""``.
    """
    if geom is None or geom.is_empty:
        return None, None, "empty geometry"
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        return None, None, "a coordinate is not a finite number (NaN or infinite)"
    kind = geom.geom_type
    if kind not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        return None, None, f"not a polygon ({kind})"
    repaired = None
    if not shapely.is_valid(geom):
        repaired = shapely.is_valid_reason(geom)
        geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(_flat(geom)) if p.geom_type == "Polygon"
             and p.area > 0]
    if not parts:
        what = f"invalid geometry ({repaired}) with" if repaired else f"{kind} with"
        return None, repaired, f"{what} no polygonal area"
    return (parts[0] if len(parts) == 1 else shapely.union_all(parts)), repaired, ""


def _flat(geom: shapely.Geometry) -> np.ndarray:
    """All parts of a geometry, nested collections opened."""
    parts = shapely.get_parts(geom)
    while any(p.geom_type == "GeometryCollection" for p in parts):
        parts = shapely.get_parts(parts)
    return parts


def oriented(geom: shapely.Geometry) -> tuple[shapely.Geometry, bool]:
    """Exterior rings counter-clockwise, holes clockwise (RFC 7946); True if any ring turned."""
    out = shapely.orient_polygons(geom, exterior_cw=False)
    turned = not np.array_equal(shapely.get_coordinates(out), shapely.get_coordinates(geom))
    return out, turned


def outside_reason(geom: shapely.Geometry, area: tuple[float, float, float, float]) -> str:
    """Why a WGS-84 geometry is not inside the service area, with a hint; ``""`` if it is."""
    x0, y0, x1, y1 = shapely.bounds(geom)
    ax0, ay0, ax1, ay1 = area
    if ax0 <= x0 and x1 <= ax1 and ay0 <= y0 and y1 <= ay1:
        return ""
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if ax0 <= cy <= ax1 and ay0 <= cx <= ay1:
        return (f"outside the service area (lon {cx:.4f}, lat {cy:.4f}): lon and lat look "
                "swapped (axis order)")
    if max(abs(x0), abs(x1)) > 180 or max(abs(y0), abs(y1)) > 90:
        return (f"outside the service area: coordinates look projected (x {cx:.0f}, "
                f"y {cy:.0f}); wrong CRS? give --crs EPSG:n")
    return (f"outside the service area (lon {cx:.4f}, lat {cy:.4f}): wrong CRS? swapped axes?")


@dataclass
class _Row:
    row: int
    code: str
    name: str
    village: str | None  # resolved village code (village level: the code itself)
    geometry: shapely.Geometry


def check_features(frame: gpd.GeoDataFrame, level: str, fields: Fields,
                   area: tuple[float, float, float, float],
                   villages: gpd.GeoDataFrame | None = None) -> Checked:
    """Check, repair, orient, resolve and merge a file's features.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        The file's features in file order, geometries already converted to WGS-84 degrees.
    level : {"village", "grid"}
        Village codes must be one of the 15 NBS codes (or a name-only row must name one); a
        grid code must be letters, digits, ``- _ .`` and its village known.
    fields : Fields
        The columns read (:func:`choose_fields`).
    area : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)`` every feature must lie within
        (:func:`cockpit.placing.service_area`).
    villages : geopandas.GeoDataFrame, optional
        The active village layer (``code``, ``geometry``, EPSG:4326); a grid without a village
        value belongs to the village containing its representative point.

    Returns
    -------
    Checked
        One :class:`Feature` per code. A row whose code appears again with another name is
        rejected as a duplicate code, with all rows of that code; rows of one code and name
        are merged (union).
    """
    out = Checked()
    rows: list[_Row] = []
    names = geo.village_names()
    columns = [frame[c].tolist() if c else [None] * len(frame)
               for c in (fields.code, fields.name, fields.village)]
    for i, (raw_code, raw_name, raw_village, geom) in enumerate(
            zip(*columns, frame.geometry, strict=True), start=1):
        code, name = text(raw_code), text(raw_name)
        geom, repaired, reason = polygonal(geom)
        if not reason:
            reason = outside_reason(geom, area)
        if not reason:
            code, reason = (_village_code(code, name, names, out.warnings, i) if level == VILLAGE
                            else _grid_code(code))
        hint = text(raw_village)
        village = code if level == VILLAGE else (geo.resolve_village(hint) if hint else None)
        if not reason and hint and village is None:
            reason = f"unknown village {hint!r}: not one of the 15 villages (code or name)"
        if reason:
            out.rejected.append(Rejected(i, code or text(raw_code), name, reason))
            continue
        geom, turned = oriented(geom)
        if repaired:  # make_valid's rings turn any way: only a valid input counts as rewound
            out.repaired.append({"row": i, "code": code, "name": name, "reason": repaired})
        else:
            out.rewound += turned
        rows.append(_Row(i, code, name, village, geom))
    for group in _groups(rows).values():
        feature, reason = _merge(group, level, names, villages)
        if feature is None:
            out.rejected.extend(Rejected(r.row, r.code, r.name, reason) for r in group)
            continue
        if len(group) > 1:
            out.merged.append({"code": feature.code, "name": feature.name,
                               "rows": list(feature.rows)})
        out.features.append(feature)
    out.rejected.sort(key=lambda r: r.row)
    return out


def _village_code(code: str, name: str, names: dict[str, dict[str, str]], warnings: list[str],
                  row: int) -> tuple[str, str]:
    """The village code of a row (by code, else by name) and the reason of a rejection."""
    if code:
        if code not in names:
            return code, f"unknown code {code}: not one of the 15 villages of 乔司街道"
        by_name = geo.resolve_village(name) if name else None
        if by_name and by_name != code:
            warnings.append(f"row {row}: code {code} is {names[code]['name']} but its name "
                            f"{name} is {names[by_name]['name']}'s; stored under the code")
        return code, ""
    if not name:
        return "", "no code and no name"
    resolved = geo.resolve_village(name)
    if resolved is None:
        return "", f"unknown village name {name!r}: not one of the 15 villages of 乔司街道"
    return resolved, ""


def _grid_code(code: str) -> tuple[str, str]:
    if not code:
        return "", "no grid code"
    if not GRID_CODE.fullmatch(code):
        return code, "grid code must be 1 to 64 letters, digits, '-', '_' or '.'"
    return code, ""


def _groups(rows: list[_Row]) -> dict[str, list[_Row]]:
    groups: dict[str, list[_Row]] = {}
    for r in rows:
        groups.setdefault(r.code, []).append(r)
    return groups


def _merge(group: list[_Row], level: str, names: dict[str, dict[str, str]],
           villages: gpd.GeoDataFrame | None) -> tuple[Feature | None, str]:
    """One feature of the rows of one code, or None and why they are all rejected."""
    code = group[0].code
    seen = list(dict.fromkeys(r.name for r in group))
    if len(seen) > 1:
        shown = ", ".join(n or "(no name)" for n in seen)
        return None, f"duplicate code {code} with different names: {shown}"
    geom = group[0].geometry
    if len(group) > 1:
        geom, _ = oriented(shapely.union_all([r.geometry for r in group]))
    name = seen[0]
    if level == VILLAGE:
        return Feature(code, name or names[code]["name"], code, geom,
                       tuple(r.row for r in group)), ""
    given = sorted({r.village for r in group if r.village})
    if len(given) > 1:
        return None, f"grid code {code} is given in several villages: {', '.join(given)}"
    village = given[0] if given else _village_at(geom, villages)
    if village is None:
        return None, ("no village given and its representative point lies in none of the 15 "
                      "villages (pass --village-field)")
    return Feature(code, name or code, village, geom, tuple(r.row for r in group)), ""


def _village_at(geom: shapely.Geometry, villages: gpd.GeoDataFrame | None) -> str | None:
    """The lowest code of the villages containing the geometry's representative point."""
    if villages is None or villages.empty:
        return None
    point = geom.representative_point()
    inside = shapely.contains_xy(villages.geometry.to_numpy(), point.x, point.y)
    codes = sorted(str(c) for c in villages["code"].to_numpy()[inside])
    return codes[0] if codes else None
