"""Build the shipped geodata layers (``geodata/``) from the shared public data.

Run ``python -m cockpit.geodata_build [--data DIR] [--out DIR]``. The output is deterministic:
the same inputs and library versions give the same bytes on every run.

Official village (村/社区) polygons of 乔司街道 are not public, so the village layer built here
is a SCHEMATIC (示意) partition of a schematic subdistrict area and must be labelled so on screen.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import prcoords
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint, Point, mapping, shape
from shapely.geometry.base import BaseGeometry

from cockpit.geo import DISTRICT_FILE, GEODATA_DIR, METRIC_CRS, SUBDISTRICT_FILE, VILLAGES_FILE

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_OUT_DIR = GEODATA_DIR

DISTRICT_SRC = Path("boundaries") / "linping_330113_district_gcj02.json"
VILLAGES_SRC = Path("admin") / "qiaosi_villages_communities_2016.csv"

PROVENANCE_FILE = "PROVENANCE.md"

DISC_AREA_M2 = 82.0e6  # 乔司街道 is about 82 km²; the disc is clipped by the district edge
GRID = 1e-6  # output precision in degrees (about 0.1 m)
LABEL_SUFFIX = "（示意）"

DISTRICT_ATTRIBUTION = (
    "lyhmyd1211/GeoMapData_CN @ 8a5515176a87 : county/330113.json (DataV GeoAtlas export)"
)
DISTRICT_LICENCE = "none stated in the source repository; DataV GeoAtlas export"
VILLAGES_ATTRIBUTION = "Vonng/adcode @ b755d6e4abca : data/adcode/330110.csv (NBS codes 2016-07)"
VILLAGES_LICENCE = "CC-BY-4.0 (names and codes); outline as for the Linping district layer"
SCHEMATIC_NOTE = (
    "示意 SCHEMATIC, not an official boundary: a Voronoi partition of a disc around the "
    "subdistrict centre clipped to the Linping district outline. Label it （示意） on screen; "
    "import official boundaries to replace it."
)

# English names (pinyin) keyed by NBS 2016 code.
NAME_EN = {
    "330110006000": "Qiaosi Subdistrict",
    "330110006002": "Xinjie Community",
    "330110006003": "Qiaosi Community",
    "330110006004": "Liancheng Community",
    "330110006005": "Liangshu Xinyuan Community",
    "330110006201": "Shengjia Village",
    "330110006204": "Wujia Village",
    "330110006207": "Fangqiao Village",
    "330110006213": "Yongxi Village",
    "330110006222": "Sanjiao Village",
    "330110006223": "Yonghe Village",
    "330110006224": "Chaoyang Village",
    "330110006225": "Wuxing Village",
    "330110006226": "Hemuqiao Village",
    "330110006227": "Liangshu Village",
    "330110006228": "Gejiache Village",
}
COMMUNITY_UR_CODES = {"111", "121"}

# Seed layout: fractions of the distance from the centre to the area edge along a ray, then a
# few Lloyd iterations on the village seeds (communities stay put near the centre).
COMMUNITY_FRACTION = 0.30
VILLAGE_FRACTION = 0.65
LLOYD_ITERATIONS = 3


def gcj_to_wgs(lon: float, lat: float) -> tuple[float, float]:
    """Convert one GCJ-02 point to WGS-84 with ``prcoords.gcj_wgs_bored``.

    Parameters
    ----------
    lon, lat : float
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    tuple of float
        ``(lon, lat)`` in WGS-84 degrees. prcoords itself takes and returns ``(lat, lon)``.
    """
    out = prcoords.gcj_wgs_bored((lat, lon))
    return float(out.lon), float(out.lat)


def _gcj_geometry_to_wgs(geom: BaseGeometry) -> BaseGeometry:
    """Convert every vertex of a GCJ-02 geometry to WGS-84 and snap to the output grid."""

    def convert(coords: np.ndarray) -> np.ndarray:
        return np.array([gcj_to_wgs(x, y) for x, y in coords], dtype=float)

    return shapely.set_precision(shapely.transform(geom, convert), GRID)


def _project(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    """Apply a pyproj transformer (always_xy) to every vertex of ``geom``."""
    return shapely.transform(
        geom, lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))
    )


def _largest_part(geom: BaseGeometry) -> BaseGeometry:
    """Return the largest polygon of a (multi)polygon result."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    return max(parts, key=lambda g: g.area)


def _edge_distance(area_m: BaseGeometry, centre_m: Point, angle: float, reach: float) -> float:
    """Distance from ``centre_m`` to the first crossing of the area edge along a ray."""
    end = (centre_m.x + reach * math.cos(angle), centre_m.y + reach * math.sin(angle))
    hits = LineString([(centre_m.x, centre_m.y), end]).intersection(area_m.exterior)
    points = [g for g in getattr(hits, "geoms", [hits]) if g.geom_type == "Point"]
    return min(centre_m.distance(p) for p in points) if points else reach


def read_villages(data_dir: Path) -> list[dict[str, str]]:
    """Read the NBS 2016 list of 乔司街道 and its 15 villages and communities.

    Parameters
    ----------
    data_dir : Path
        The shared data folder (holds ``admin/qiaosi_villages_communities_2016.csv``).

    Returns
    -------
    list of dict
        One dict per CSV row (first row: the subdistrict), values as strings.

    Raises
    ------
    FileNotFoundError
        If the CSV is missing.
    """
    with (data_dir / VILLAGES_SRC).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _seed_points(
    rows: list[dict[str, str]], area_m: BaseGeometry, centre_m: Point, to_m: Transformer
) -> list[Point]:
    """Deterministic Voronoi seeds: communities near the centre, villages on an outer ring."""
    reach = 4.0 * math.sqrt(area_m.area / math.pi)
    inner = [r for r in rows if r["ur_code"] in COMMUNITY_UR_CODES and not r["lon_gcj02"]]
    outer = [r for r in rows if r["ur_code"] not in COMMUNITY_UR_CODES]
    seeds: dict[str, Point] = {}
    for group, fraction, offset, turn in (
        (inner, COMMUNITY_FRACTION, 0.0, 1),
        (outer, VILLAGE_FRACTION, 0.5, -1),
    ):
        for k, row in enumerate(group):
            angle = math.pi / 2 + turn * 2 * math.pi * (k - offset) / len(group)
            dist = fraction * _edge_distance(area_m, centre_m, angle, reach)
            seeds[row["nbs_code_2016"]] = Point(
                centre_m.x + dist * math.cos(angle), centre_m.y + dist * math.sin(angle)
            )
    for row in rows:
        if row["lon_gcj02"]:  # a real centre point (新街社区)
            lon, lat = gcj_to_wgs(float(row["lon_gcj02"]), float(row["lat_gcj02"]))
            seeds[row["nbs_code_2016"]] = Point(to_m.transform(lon, lat))
    return [seeds[r["nbs_code_2016"]] for r in rows]


def _relax(seeds: list[Point], movable: list[bool], area_m: BaseGeometry) -> list[Point]:
    """A few Lloyd iterations on the movable seeds so village cells come out of similar size."""
    for _ in range(LLOYD_ITERATIONS):
        cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=area_m.envelope.buffer(1e4))
        moved = []
        for seed, move in zip(seeds, movable, strict=True):
            cell = next(c for c in cells.geoms if c.contains(seed))
            moved.append(_largest_part(cell.intersection(area_m)).centroid if move else seed)
        seeds = moved
    return seeds


def _round_coords(obj: object) -> object:
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], float):
            return [round(v, 6) for v in obj]
        return [_round_coords(v) for v in obj]
    return obj


def _feature(properties: dict, geom: BaseGeometry) -> dict:
    geo = mapping(shapely.orient_polygons(geom))  # RFC 7946: exteriors counter-clockwise
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": geo["type"], "coordinates": _round_coords(geo["coordinates"])},
    }


def write_geojson(path: Path, name: str, features: list[dict]) -> None:
    """Write a WGS-84 GeoJSON FeatureCollection byte-for-byte deterministically.

    Parameters
    ----------
    path : Path
        Output file.
    name : str
        Collection name.
    features : list of dict
        GeoJSON features with coordinates already rounded; one is written per line.
    """
    lines = [f'{{"type":"FeatureCollection","name":{json.dumps(name)},"features":[']
    body = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    lines.append(",\n".join(body))
    lines.append("]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def _provenance(radius: float, area_km2: float, district_km2: float) -> str:
    return f"""# geodata: provenance

Generated by `python -m cockpit.geodata_build` (source: `cockpit/geodata_build.py`); do not edit
by hand. The build is deterministic. All files are GeoJSON in WGS-84 (EPSG:4326), coordinates
rounded to 6 decimals. GCJ-02 input vertices were converted with `prcoords.gcj_wgs_bored`.

## Files

- `{DISTRICT_FILE}`: the real outline of 临平区 (Linping district, adcode 330113),
  {district_km2:.1f} km², converted from GCJ-02 to WGS-84.
- `{SUBDISTRICT_FILE}`: **schematic (示意)** area of 乔司街道: the Linping outline
  intersected with a disc of 82 km² (the area of 乔司街道; radius {radius:.1f} m) around the
  subdistrict centre point. Clipped by the district edge it covers {area_km2:.1f} km².
- `{VILLAGES_FILE}`: **schematic (示意)** layer of the 15 villages (村) and
  communities (社区): a Voronoi partition of the schematic area from 15 deterministic seeds
  (新街社区 at its real centre point, the other communities near the centre, the villages on an
  outer ring evened out by {LLOYD_ITERATIONS} Lloyd iterations), clipped to the area.

## The village layer is schematic (示意)

Official subdistrict and village boundaries are not public. The polygons above only place each
village and community roughly; they are **not** official boundaries and must be labelled
（示意） wherever they are shown (each feature carries `schematic: true` and
`label_suffix: "（示意）"`). Official boundaries are to be imported by the user.

## Sources and attribution

- Linping district outline: {DISTRICT_ATTRIBUTION}. Licence: {DISTRICT_LICENCE}.
  Coordinates in the source are GCJ-02.
- Names and NBS codes of 乔司街道 and its villages and communities, and the centre points of the
  subdistrict and of 新街社区: {VILLAGES_ATTRIBUTION}. Licence: CC-BY-4.0.
  Names keep the NBS spelling without the suffix 委会 (胜稼村委会 → 胜稼村); codes are the
  2016 ones (乔司街道 330110006, since 2021 330113005).
- English names are pinyin transliterations added here.
"""


def build(data_dir: Path | None = None, out_dir: Path | None = None) -> list[Path]:
    """Build the geodata layers.

    Parameters
    ----------
    data_dir : Path, optional
        The shared data folder; default ``<checkout>/../shared/data``.
    out_dir : Path, optional
        Output folder, created if missing; default ``<repo>/geodata``.

    Returns
    -------
    list of Path
        The files written: district, subdistrict and village GeoJSON, then ``PROVENANCE.md``.

    Raises
    ------
    FileNotFoundError
        If an input file is missing.
    ValueError
        If the built village layer is not a valid, non-overlapping partition.
    """
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    to_m = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    to_deg = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)

    src = json.loads((data_dir / DISTRICT_SRC).read_text(encoding="utf-8"))
    src_feature = src["features"][0]
    district = _gcj_geometry_to_wgs(shape(src_feature["geometry"]))
    district_m = _project(district, to_m)

    rows = read_villages(data_dir)
    town, members = rows[0], rows[1:]
    centre = gcj_to_wgs(float(town["lon_gcj02"]), float(town["lat_gcj02"]))
    centre_m = Point(to_m.transform(*centre))
    radius = round(math.sqrt(DISC_AREA_M2 / math.pi), 1)
    disc = _project(centre_m.buffer(radius, quad_segs=64), to_deg)
    area = shapely.set_precision(_largest_part(district.intersection(disc)), GRID)
    area_m = _project(area, to_m)

    seeds = _seed_points(members, area_m, centre_m, to_m)
    seeds = _relax(seeds, [r["ur_code"] not in COMMUNITY_UR_CODES for r in members], area_m)
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=area_m.buffer(radius))
    village_features, polys = [], []
    for row, seed in zip(members, seeds, strict=True):
        cell = next(c for c in cells.geoms if c.contains(seed))
        poly = shapely.set_precision(_project(cell, to_deg).intersection(area), GRID)
        polys.append(poly)
        code = row["nbs_code_2016"]
        kind = "community" if row["ur_code"] in COMMUNITY_UR_CODES else "village"
        props = {
            "code": code,
            "name": row["name"].removesuffix("委会"),
            "name_en": NAME_EN[code],
            "kind": kind,
            "ur_code": row["ur_code"],
            "schematic": True,
            "label_suffix": LABEL_SUFFIX,
            "source": VILLAGES_ATTRIBUTION + "; area from " + DISTRICT_ATTRIBUTION,
            "licence": VILLAGES_LICENCE,
            "note": SCHEMATIC_NOTE,
        }
        village_features.append(_feature(props, poly))
    _check_partition(polys)

    district_props = {
        "adcode": src_feature["properties"]["adcode"],
        "name": src_feature["properties"]["name"],
        "crs_source": "gcj02",
        "source": DISTRICT_ATTRIBUTION + "; converted to WGS-84 with prcoords.gcj_wgs_bored",
        "licence": DISTRICT_LICENCE,
    }
    town_props = {
        "code": town["nbs_code_2016"],
        "name": town["name"],
        "name_en": NAME_EN[town["nbs_code_2016"]],
        "kind": "subdistrict",
        "schematic": True,
        "label_suffix": LABEL_SUFFIX,
        "source": DISTRICT_ATTRIBUTION + "; centre point from " + VILLAGES_ATTRIBUTION,
        "licence": VILLAGES_LICENCE,
        "note": "示意 SCHEMATIC, not an official boundary: the Linping district outline "
        f"intersected with a disc of radius {radius:.1f} m around the subdistrict centre.",
    }
    paths = [out_dir / DISTRICT_FILE, out_dir / SUBDISTRICT_FILE, out_dir / VILLAGES_FILE]
    write_geojson(paths[0], "linping_district_wgs84", [_feature(district_props, district)])
    write_geojson(paths[1], "qiaosi_subdistrict_schematic", [_feature(town_props, area)])
    write_geojson(paths[2], "qiaosi_villages_schematic", village_features)
    provenance = out_dir / PROVENANCE_FILE
    text = _provenance(radius, area_m.area / 1e6, district_m.area / 1e6)
    provenance.write_text(text, encoding="utf-8", newline="\n")
    return [*paths, provenance]


def _check_partition(polys: list[BaseGeometry]) -> None:
    """Raise ValueError unless the polygons are valid, non-empty and do not overlap."""
    for poly in polys:
        if poly.is_empty or not poly.is_valid or poly.geom_type != "Polygon":
            raise ValueError(f"bad village polygon: {poly.geom_type}, valid={poly.is_valid}")
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j and polys[i].intersection(polys[j]).area > 1e-12:
            raise ValueError(f"village polygons {i} and {j} overlap")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m cockpit.geodata_build [--data DIR] [--out DIR]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status 0; the written paths are listed on stderr.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in build(args.data, args.out):
        sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
