"""What the alert tests share: the issue's fire rule, a rules file written from rule texts.

``tests/test_alerts.py``, ``test_alerts_browser.py`` and ``test_alerts_restart.py`` each run
the ``fire-burst`` rule (more than 3 fires in one village within an hour, critical) under their
own evaluation timing; :func:`write_rules` writes such a file for the settings'
``alerts_file`` (``COCKPIT_ALERTS_FILE``).
"""

from __future__ import annotations

from pathlib import Path

#: The issue's example rule, as an item of ``rules:`` (docs/alerts.md).
FIRE_BURST = """\
  - id: fire-burst
    title: {zh: 火情 1 小时内, en: Fires within 1 h}
    measure: {type: incident_count, category: [fire], per: village, window: 1h}
    compare: ">"
    threshold: 3
    severity: critical
"""


def rules_text(after_commit: str, every: str, *rules: str) -> str:
    """Return an alert-rules file: the evaluation timing (``"0s"``, ``"1h"``) and rule items."""
    return (f"evaluation: {{after_commit: {after_commit}, every: {every}}}\nrules:\n"
            + "".join(rules))


def write_rules(folder: Path, text: str) -> Path:
    """Write ``text`` as ``folder/alert_rules.yaml`` (UTF-8); returns the path."""
    path = folder / "alert_rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path
