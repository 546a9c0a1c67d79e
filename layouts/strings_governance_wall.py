"""UI strings of the governance wall screens: key -> (zh-CN, English); merged into layouts.i18n."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
}
