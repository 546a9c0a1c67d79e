"""Mojibake: Chinese names of a boundary file read with the wrong encoding.

A Shapefile's ``.dbf`` without a ``.cpg`` is often GBK read as Latin-1; :func:`misdecoded`
recognises the result (``ÇÇË¾`` for 乔司) so the import can refuse the file and name the
encoding to pass (docs/geodata.md). Plain Python.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_REENCODINGS = ("latin-1", "cp1252")
#: Encodings tried on re-encoded text, each with the charset its result must fit: UTF-8 is
#: strict enough alone; GBK decodes most Latin text too, so the result must be GB2312 (common
#: hanzi, both bytes 0xA1-0xFE), which Chinese place names are and Latin words are not.
_ENCODINGS = (("utf-8", "utf-8"), ("gbk", "gb2312"))


def misdecoded(values) -> tuple[str, str, str] | None:
    """Whether text looks like CJK read with the wrong encoding (Latin-1 mojibake).

    Parameters
    ----------
    values : iterable of object
        Names and field names as read; non-strings are ignored.

    Returns
    -------
    tuple of str or None
        ``(as read, as it should read, encoding)`` of one example, e.g.
        ``("ÇÇË¾", "乔司", "gbk")``, when at least half of the non-ASCII texts re-encode
        (Latin-1 or cp1252) to bytes that decode as UTF-8, or as GBK into GB2312 text, with
        CJK in it; else None.
    """
    odd = [v for v in dict.fromkeys(values) if isinstance(v, str) and not v.isascii()]
    found = [hit for v in odd if (hit := _redecoded(v)) is not None]
    if not found or 2 * len(found) < len(odd):
        return None
    return found[0]


def _redecoded(value: str) -> tuple[str, str, str] | None:
    if _CJK.search(value):
        return None
    for wrong in _REENCODINGS:
        try:
            raw = value.encode(wrong)
        except UnicodeEncodeError:
            continue
        for right, charset in _ENCODINGS:
            try:
                fixed = raw.decode(right)
                fixed.encode(charset)
            except (UnicodeDecodeError, UnicodeEncodeError):
                continue
            if _CJK.search(fixed):
                return value, fixed, right
    return None
