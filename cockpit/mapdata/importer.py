"""Read a boundary file into the village or grid layer (``cockpit geodata import``).

GeoJSON, Shapefile (or a ``.zip`` holding one) and GeoPackage are read with pyogrio. The source
CRS comes from the file (a ``.prj``, the GeoPackage's srs, a GeoJSON ``crs`` member) or
``--crs``; a file that declares none is refused, since a GCJ-02 export (DataV, Gaode) looks
exactly like WGS-84. GCJ-02 and BD-09 are converted vertex by vertex with prcoords
(:func:`cockpit.crs.geometry_to_wgs84`), EPSG codes with pyproj. Names that look mis-decoded
(a GBK shapefile without ``.cpg``) are refused with the encoding to pass. The checks per
feature are in :mod:`cockpit.mapdata.import_checks` (docs/geodata.md).
"""

from __future__ import annotations

import codecs
import json
import re
import warnings as warnings_module
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pyproj
import shapely
from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from cockpit.crs import geometry_to_wgs84
from cockpit.mapdata import layers
from cockpit.mapdata.import_checks import (
    GRID,
    VILLAGE,
    Checked,
    Feature,
    ImportRefused,
    Rejected,
    check_features,
    choose_fields,
)
from cockpit.mapdata.mojibake import misdecoded
from cockpit.placing import service_area
from cockpit.store.map_models import BoundaryFeature, BoundaryImport

__all__ = ["ImportRefused", "ImportResult", "Rejected", "clear_layer", "import_layer",
           "misdecoded", "parse_crs"]

GEOJSON = (".geojson", ".json")
SHAPEFILE = (".shp", ".zip")
GEOPACKAGE = (".gpkg",)
DATUMS = ("wgs84", "gcj02", "bd09")


@dataclass
class ImportResult:
    """What an import read, stored (or in a dry run would store), repaired and rejected."""

    level: str
    source: str
    source_crs: str
    encoding: str | None
    read: int = 0
    imported: int = 0
    merged: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    rewound: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    import_id: int | None = None
    dry_run: bool = False

    def report(self) -> dict[str, Any]:
        """The report stored with the import (``BoundaryImport.report``), JSON-ready."""
        return {"repaired": self.repaired, "rewound": self.rewound, "merged": self.merged,
                "rejected": [{"row": r.row, "code": r.code, "name": r.name, "reason": r.reason}
                             for r in self.rejected],
                "warnings": self.warnings}


def parse_crs(value: str) -> tuple[str, pyproj.CRS | None]:
    """Parse ``--crs``: ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:n``.

    Returns
    -------
    tuple
        ``(label, crs)``: the label stored as the import's source CRS (``EPSG:4326`` gives
        ``wgs84``) and the pyproj CRS of an EPSG code (None for the three datums).

    Raises
    ------
    ImportRefused
        If the value is none of these or the EPSG code is unknown.
    """
    word = value.strip().lower().replace("-", "").replace("_", "")
    if word in DATUMS:
        return word, None
    match = re.fullmatch(r"epsg:(\d{4,6})", word)
    if match is None:
        raise ImportRefused(f"unknown CRS {value!r}: use --crs wgs84|gcj02|bd09|EPSG:n")
    try:
        parsed = pyproj.CRS.from_epsg(int(match[1]))
    except pyproj.exceptions.CRSError:
        raise ImportRefused(f"unknown CRS {value!r}: no such EPSG code") from None
    return _label(parsed), parsed


def _label(crs: pyproj.CRS) -> str:
    """``wgs84`` for EPSG:4326, ``EPSG:n`` when pyproj finds a code, else the CRS's name."""
    code = crs.to_epsg()
    if code == 4326:
        return "wgs84"
    return f"EPSG:{code}" if code else crs.name[:64]


@dataclass
class SourceFile:
    """A boundary file as read: features, declared CRS (None: none), encoding, warnings."""

    frame: gpd.GeoDataFrame
    declared: pyproj.CRS | None
    encoding: str | None
    warnings: list[str]
    #: Why a CRS the file names was not taken (a GeoJSON crs member no CRS library knows).
    unknown_crs: str = ""


def read_source(path: Path, layer: str | None = None, encoding: str | None = None) -> SourceFile:
    """Read a GeoJSON, Shapefile (``.shp`` or ``.zip``) or GeoPackage file's features.

    Returns
    -------
    SourceFile
        The features (geometries 2-D, unparseable ones None), the CRS the file declares (None
        for a GeoJSON without a ``crs`` member or a shapefile without ``.prj``), the encoding
        read with and warnings.

    Raises
    ------
    ImportRefused
        If the file is missing, of another format, unreadable, or ``layer`` is needed or wrong.
    """
    if not path.is_file():
        raise ImportRefused(f"no file {path}")
    suffix = path.suffix.lower()
    if suffix not in GEOJSON + SHAPEFILE + GEOPACKAGE:
        raise ImportRefused(f"{path.name}: not a GeoJSON (.geojson, .json), Shapefile (.shp, "
                            ".zip) or GeoPackage (.gpkg) file")
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise ImportRefused(f"unknown encoding {encoding!r} (--encoding)") from None
    target = _zip_target(path) if suffix == ".zip" else str(path)
    warnings: list[str] = []
    try:
        if suffix in GEOPACKAGE:
            layer = _gpkg_layer(path, layer)
        elif layer is not None:
            warnings.append(f"--layer {layer} ignored: {path.name} has one layer")
            layer = None
        with warnings_module.catch_warnings():
            # a NaN coordinate warns while read; the feature is then rejected with its reason
            warnings_module.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(target, layer=layer, encoding=encoding,
                                           force_2d=True, on_invalid="ignore")
        info_encoding = pyogrio.read_info(target, layer=layer).get("encoding")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.GeometryError, UnicodeDecodeError,
            OSError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ImportRefused(f"cannot read {path.name}: {first}") from None
    declared, unknown = frame.crs, ""
    member = _crs_member(path) if suffix in GEOJSON else None
    if suffix in GEOJSON and member is None:
        declared = None  # RFC 7946 says WGS-84, but DataV and Gaode export GCJ-02 alike
    elif member is not None and not _known_crs(member):
        # GDAL falls back to WGS-84 for a crs member it cannot read ("GCJ02"): not taken
        declared, unknown = None, f"its GeoJSON crs member names {member[:60]!r}, no CRS " \
                                  "pyproj knows"
    elif declared is not None and (declared.is_engineering
                                   or declared.name.lower().startswith("undefined")):
        declared = None  # a GeoPackage's srs 0 or -1: "undefined geographic / Cartesian SRS"
    return SourceFile(frame, declared, encoding or info_encoding, warnings, unknown)


def _zip_target(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            shps = [n for n in archive.namelist() if n.lower().endswith(".shp")
                    and not n.startswith("__MACOSX/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused(f"cannot read {path.name}: {exc}") from None
    if len(shps) != 1:
        held = ", ".join(shps) if shps else "none"
        raise ImportRefused(f"{path.name} must hold one shapefile (.shp); it holds {held}")
    return f"/vsizip/{path.resolve()}/{shps[0]}"


def _gpkg_layer(path: Path, layer: str | None) -> str:
    spatial = [str(name) for name, kind in pyogrio.list_layers(path) if kind is not None]
    listed = ", ".join(spatial) or "none"
    if layer is not None:
        if layer not in spatial:
            raise ImportRefused(f"{path.name} has no layer {layer!r} with geometries; its "
                                f"layers: {listed}")
        return layer
    if len(spatial) != 1:
        raise ImportRefused(f"{path.name} has {len(spatial) or 'no'} layers with geometries "
                            f"({listed}): pass --layer NAME")
    return spatial[0]


def _crs_member(path: Path) -> str | None:
    """The CRS a GeoJSON's ``crs`` member names (``properties.name``), else None."""
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        return None
    member = doc.get("crs") if isinstance(doc, dict) else None
    if member is None:
        return None
    props = member.get("properties") if isinstance(member, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    return str(name) if name else json.dumps(member, ensure_ascii=False)


def _known_crs(name: str) -> bool:
    try:
        pyproj.CRS.from_user_input(name)
    except pyproj.exceptions.CRSError:
        return False
    return True


def _to_wgs84(source: SourceFile, crs: str | None) -> tuple[gpd.GeoSeries, str, list[str]]:
    """The geometries in WGS-84, the source CRS's label and a warning if --crs overrides."""
    declared = _label(source.declared) if source.declared is not None else None
    if crs is None:
        if source.declared is None and source.unknown_crs:
            raise ImportRefused(f"the file's CRS is unknown ({source.unknown_crs}): pass --crs "
                                "wgs84|gcj02|bd09|EPSG:n")
        if source.declared is None:
            raise ImportRefused("the file does not declare its CRS (no .prj, GeoPackage srs or "
                                "GeoJSON crs member; DataV and Gaode exports are GCJ-02): "
                                "pass --crs wgs84|gcj02|bd09|EPSG:n")
        label, parsed = declared, source.declared
    else:
        label, parsed = parse_crs(crs)
    warnings = []
    if crs is not None and declared is not None and declared != label:
        warnings.append(f"the file declares {declared} but --crs {label} was given: read as "
                        f"{label} (GCJ-02 files often carry a WGS-84 .prj)")
    geoms = source.frame.geometry
    if parsed is None:
        converted = geometry_to_wgs84(geoms.to_numpy(), label)
        return gpd.GeoSeries(converted, index=geoms.index, crs=4326), label, warnings
    try:
        out = geoms.set_crs(parsed, allow_override=True).to_crs(4326)
    except pyproj.exceptions.ProjError as exc:
        raise ImportRefused(f"cannot convert from {label} to WGS-84: {exc}") from None
    return out, label, warnings


def import_layer(session: Session, path: Path | str, level: str, crs: str | None = None,
                 encoding: str | None = None, code_field: str | None = None,
                 name_field: str | None = None, village_field: str | None = None,
                 layer: str | None = None, dry_run: bool = False,
                 actor: str | None = None) -> ImportResult:
    """Import a boundary file as the village or grid layer (the caller commits).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        The store; nothing is written in a dry run. The caller owns the transaction.
    path : pathlib.Path or str
        ``.geojson``/``.json``, ``.shp``, ``.zip`` (one shapefile) or ``.gpkg``.
    level : {"village", "grid"}
        The layer: a village file replaces all imported villages; a grid file replaces the
        grids of the villages it holds (other villages' grids stay).
    crs : str, optional
        ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:n``; overrides the file's own CRS.
    encoding : str, optional
        Python codec of the attribute text (``gbk`` for a shapefile without ``.cpg``).
    code_field, name_field, village_field, layer : str, optional
        Columns and GeoPackage layer to read; detected when not given.
    dry_run : bool
        Check and report only.
    actor : str, optional
        Who imports (``cli`` or a user name), stored with the import.

    Returns
    -------
    ImportResult
        Counts, repaired/merged features, rejected rows, warnings and the new ``import_id``.

    Raises
    ------
    ImportRefused
        If the file cannot be read, declares no CRS and ``crs`` is not given, its names look
        mis-decoded, a field is missing, or no feature is valid.
    ValueError
        If ``level`` is neither ``village`` nor ``grid``.
    """
    if level not in (VILLAGE, GRID):
        raise ValueError(f"level must be village or grid, not {level!r}")
    path = Path(path)
    source = read_source(path, layer, encoding)
    frame = source.frame
    if encoding is None:
        texts = [v for c in frame.columns if c != frame.geometry.name for v in frame[c]]
        example = misdecoded([*frame.columns, *texts])
        if example is not None:
            raw, fixed, right = example
            raise ImportRefused(f"the names look mis-decoded ({raw!r} reads as {fixed} in "
                                f"{right.upper()}): pass --encoding {right}")
    geoms, label, crs_warnings = _to_wgs84(source, crs)
    frame = frame.set_geometry(geoms)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    fields = choose_fields(columns, level, code_field, name_field, village_field)
    villages = layers.village_layer(session) if level == GRID else None
    checked = check_features(frame, level, fields, service_area(), villages)
    result = ImportResult(level, path.name, label, source.encoding, read=len(frame),
                          imported=len(checked.features), merged=checked.merged,
                          repaired=checked.repaired, rewound=checked.rewound,
                          rejected=checked.rejected,
                          warnings=[*source.warnings, *crs_warnings, *checked.warnings],
                          dry_run=dry_run)
    if not checked.features:
        raise ImportRefused(_nothing_valid(path, checked), checked.rejected)
    if not dry_run:
        result.import_id = _store(session, result, checked, actor)
    return result


def _nothing_valid(path: Path, checked: Checked) -> str:
    if not checked.rejected:
        return f"{path.name} holds no feature"
    first = checked.rejected[0]
    return (f"no valid feature in {path.name}: {len(checked.rejected)} rejected; row "
            f"{first.row}: {first.reason}")


def _store(session: Session, result: ImportResult, checked: Checked, actor: str | None) -> int:
    run = BoundaryImport(level=result.level, method="imported", source=result.source,
                         source_crs=result.source_crs, encoding=result.encoding,
                         features=result.imported, report=result.report(),
                         imported_at=datetime.now(UTC), actor=actor)
    session.add(run)
    session.flush()
    codes = [f.code for f in checked.features]
    gone = delete(BoundaryFeature).where(BoundaryFeature.level == result.level)
    if result.level == GRID:
        villages = sorted({f.village_code for f in checked.features})
        gone = gone.where(or_(BoundaryFeature.village_code.in_(villages),
                              BoundaryFeature.code.in_(codes)))
    session.execute(gone)
    session.add_all(_row(f, result.level, run.import_id) for f in checked.features)
    session.flush()
    return run.import_id


def _row(feature: Feature, level: str, import_id: int) -> BoundaryFeature:
    return BoundaryFeature(level=level, code=feature.code, name=feature.name,
                           village_code=feature.village_code,
                           geometry=shapely.to_geojson(feature.geometry), generated=False,
                           method="imported", import_id=import_id)


def clear_layer(session: Session, level: str, actor: str | None = None) -> BoundaryImport:
    """Remove a level's features: villages go back to the schematic layer, grids to none.

    Every imported village, or every imported and generated grid, is deleted and the clearing
    recorded as a :class:`BoundaryImport` of method ``cleared`` (its report holds
    ``{"removed": n}``), so readers re-read. The caller commits.

    Raises
    ------
    ValueError
        If ``level`` is neither ``village`` nor ``grid``.
    """
    if level not in (VILLAGE, GRID):
        raise ValueError(f"level must be village or grid, not {level!r}")
    removed = session.execute(delete(BoundaryFeature).where(BoundaryFeature.level == level))
    run = BoundaryImport(level=level, method="cleared", source="cockpit geodata clear",
                         source_crs=None, encoding=None, features=0,
                         report={"removed": removed.rowcount}, imported_at=datetime.now(UTC),
                         actor=actor)
    session.add(run)
    session.flush()
    return run
