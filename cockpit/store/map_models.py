"""Typed SQLAlchemy models of the map layers: imported or generated boundaries (docs/geodata.md).

A village or grid (网格) layer lives here once imported (``cockpit geodata import``) or, for
grids, generated (``cockpit geodata grids``). Geometries are stored as GeoJSON text in WGS-84
(EPSG:4326), exterior rings counter-clockwise (RFC 7946), one (Multi)Polygon per code. Every
import or generation is a :class:`BoundaryImport`; the newest ``import_id`` is the layer
version every reader re-reads on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cockpit.store.models import Base, UTCDateTime


class BoundaryImport(Base):
    """One import or generation run of a layer: what it read, what it repaired or refused."""

    __tablename__ = "boundary_imports"

    import_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: village | grid
    level: Mapped[str] = mapped_column(String(16))
    #: imported | regular | h3 | cleared
    method: Mapped[str] = mapped_column(String(16))
    #: The file name read (no directory), or the generation's parameters.
    source: Mapped[str] = mapped_column(Text)
    #: The CRS the source was read in (wgs84, gcj02, bd09 or EPSG:n).
    source_crs: Mapped[str | None] = mapped_column(String(64))
    encoding: Mapped[str | None] = mapped_column(String(32))
    features: Mapped[int] = mapped_column(Integer, default=0)
    #: ``{"repaired": [...], "rewound": n, "merged": [...], "rejected": [...], "warnings": [...]}``
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(128))


class BoundaryFeature(Base):
    """One village or grid polygon of the active layer, in WGS-84."""

    __tablename__ = "boundary_features"
    __table_args__ = (Index("ix_boundary_features_village", "level", "village_code"),)

    #: village | grid
    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: The village's 12-digit NBS code, or the grid's code (unique within the level).
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    #: The village a grid belongs to (for a village: its own code).
    village_code: Mapped[str] = mapped_column(String(32))
    #: GeoJSON (Multi)Polygon, WGS-84, exterior rings counter-clockwise, holes clockwise.
    geometry: Mapped[str] = mapped_column(Text)
    #: False for an imported feature; True for a generated grid (labelled 生成 on screen).
    generated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: imported | regular | h3
    method: Mapped[str] = mapped_column(String(16))
    import_id: Mapped[int] = mapped_column(Integer)
