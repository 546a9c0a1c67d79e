"""The waste importer's file formats: household and station registers and their mappings.

A household mapping (``mappings/waste_households_*.yaml``) names the column of each field of
``household.registered`` plus the move-out date (搬离日期) that yields a ``household.moved_out``;
a station mapping (``mappings/waste_stations_*.yaml``) those of ``station.registered``. The
reading itself is :mod:`cockpit.import_table`'s. Registers write some values their own way
(坐标系 高德, 状态 停用, 人数 3人); :func:`crs_text`, :func:`status_text` and
:func:`members_text` turn them into the contract's words and leave anything else to the
contract to refuse. docs/waste-import.md describes the formats.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from cockpit.import_table import ColumnsBase, MappingBase, MappingFormat


class HouseholdColumns(ColumnsBase):
    """File column of each household field; ``household_id``, ``kind``, ``village`` required."""

    household_id: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    village: str = Field(min_length=1)
    group: str | None = None
    house_id: str | None = None
    address: str | None = None
    landlord_id: str | None = None
    landlord_name: str | None = None
    landlord_phone: str | None = None
    head_name: str | None = None
    head_phone: str | None = None
    members: str | None = None
    moved_in_at: str | None = None
    moved_out_at: str | None = None
    registered_at: str | None = None
    #: The house's position (counts per grid on the staff map); optional.
    lon: str | None = None
    lat: str | None = None
    crs: str | None = None


class HouseholdMapping(MappingBase):
    """A household register's format (户籍台账): its columns and how to read the file."""

    columns: HouseholdColumns
    #: Datum of lon/lat when the file has no 坐标系 column or the cell is empty.
    default_crs: Literal["wgs84", "gcj02", "bd09"] | None = None


class StationColumns(ColumnsBase):
    """File column of each station field; ``station_id``, ``name``, ``village`` required."""

    station_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    village: str = Field(min_length=1)
    lon: str | None = None
    lat: str | None = None
    crs: str | None = None
    status: str | None = None


class StationMapping(MappingBase):
    """A station register's format (投放点台账): its columns and how to read the file."""

    columns: StationColumns
    #: Datum of lon/lat when the file has no 坐标系 column or the cell is empty.
    default_crs: Literal["wgs84", "gcj02", "bd09"] | None = None


#: ``--kind`` → the mappings of that register.
FORMATS = {"households": MappingFormat(HouseholdMapping, "waste_households_"),
           "stations": MappingFormat(StationMapping, "waste_stations_")}

_CRS_WORDS = {"wgs84": "wgs84", "wgs": "wgs84", "gps": "wgs84", "cgcs2000": "wgs84",
              "gcj02": "gcj02", "gcj": "gcj02", "高德": "gcj02", "火星": "gcj02",
              "火星坐标": "gcj02", "国测局": "gcj02", "腾讯": "gcj02",
              "bd09": "bd09", "bd09ll": "bd09", "百度": "bd09"}
_STATUS_WORDS = {"active": "active", "closed": "closed", "正常": "active", "启用": "active",
                 "在用": "active", "运行": "active", "运行中": "active", "使用中": "active",
                 "停用": "closed", "关闭": "closed", "已关闭": "closed", "撤除": "closed",
                 "已撤除": "closed", "撤销": "closed", "废弃": "closed"}
_MEMBERS = re.compile(r"^(\d+)\s*[人口]?$")


def crs_text(value: str | None) -> str | None:
    """A register's datum as the contract's code: ``WGS-84``, ``GCJ02``, ``高德`` → ``gcj02``.

    ``CGCS2000`` counts as ``wgs84`` (they differ by centimetres). Other text is returned as
    it is, for the contract to refuse.
    """
    if value is None:
        return None
    key = re.sub(r"[\s_\-]|坐标系?|地图", "", value).lower()
    return _CRS_WORDS.get(key, value)


def status_text(value: str | None) -> str | None:
    """A station status as the contract's ``active``/``closed`` (正常, 启用 / 停用, 撤除 ...)."""
    if value is None:
        return None
    return _STATUS_WORDS.get(value.strip().lower(), value)


def members_text(value: str | None) -> str | None:
    """``3人``/``3口`` → ``3``; other text is returned as it is."""
    if value is None:
        return None
    match = _MEMBERS.match(value.strip())
    return match.group(1) if match else value
