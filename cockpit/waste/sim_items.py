"""Simulated waste sorting (模拟): the real item list a wrong disposal's find is drawn from.

``../shared/data/waste/cn_garbage_item_categories.csv`` beside the checkout (the same shared
data folder :data:`cockpit.demo.SHARED_DATA` replays incidents from): 4,871 Chinese household
items with their sorting class, from MTQ851/garbage-classification-roberta @ 2e4f31f55c4a :
data/garbage_sorting.csv (no licence stated in the repository; see
``../shared/data/PROVENANCE.md``). Its ``type`` column is the national scheme: 1 可回收物, 2 其他
垃圾, 3 厨余垃圾 (Hangzhou's 易腐垃圾) and 4 有害垃圾.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from cockpit.waste.events import WasteClass

#: The shared data folder beside the checkout (``../shared/data``).
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ITEMS_FILE = SHARED_DATA / "waste" / "cn_garbage_item_categories.csv"
#: The file's ``type`` codes as Hangzhou's classes.
TYPE_CLASSES = {"1": WasteClass.RECYCLABLE, "2": WasteClass.RESIDUAL,
                "3": WasteClass.PERISHABLE, "4": WasteClass.HAZARDOUS}
#: Longest item name the contract's ``found_item`` takes.
MAX_ITEM = 64


class ItemListError(RuntimeError):
    """The item list is missing or unusable; the message names the file and what to do."""


def read_items(path: Path | None = None) -> dict[WasteClass, tuple[str, ...]]:
    """The item names of each class, in file order, without duplicates.

    Parameters
    ----------
    path : Path, optional
        A CSV with the columns ``id``, ``garbage_name``, ``type`` (1-4); default
        :data:`ITEMS_FILE`.

    Returns
    -------
    dict of WasteClass to tuple of str
        Every class with at least one name (at most :data:`MAX_ITEM` characters each); about
        1,000 recyclable, 1,150 residual, 2,070 perishable and 640 hazardous in the shipped file.

    Raises
    ------
    ItemListError
        If the file is missing, lacks a column, or leaves a class without items; the message
        names the path.
    """
    return _read(str(path or ITEMS_FILE))


@functools.lru_cache(maxsize=4)
def _read(path: str) -> dict[WasteClass, tuple[str, ...]]:
    file = Path(path)
    if not file.is_file():
        raise ItemListError(f"waste item list not found: {file} (the simulator draws what a "
                            "wrong disposal contained from ../shared/data/waste/ beside the "
                            "checkout; or pass --items FILE)")
    found: dict[WasteClass, dict[str, None]] = {kind: {} for kind in WasteClass}
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"garbage_name", "type"} - set(reader.fieldnames or ())
        if missing:
            raise ItemListError(f"{file}: missing column(s) {', '.join(sorted(missing))}; "
                                "expected id, garbage_name, type")
        for row in reader:
            kind = TYPE_CLASSES.get((row.get("type") or "").strip())
            name = (row.get("garbage_name") or "").strip()
            if kind is not None and name and len(name) <= MAX_ITEM and "\x00" not in name:
                found[kind][name] = None
    empty = [kind.value for kind, names in found.items() if not names]
    if empty:
        raise ItemListError(f"{file}: no items of class {', '.join(empty)} (type 1-4)")
    return {kind: tuple(names) for kind, names in found.items()}
