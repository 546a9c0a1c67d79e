"""UI strings of the incidents screens: key -> (zh-CN, English); merged into layouts.i18n."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
}
