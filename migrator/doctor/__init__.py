"""The routing doctor: findings as data (``routing``, ``migrations``), registered as Django system
checks (``system_checks``), rendered as text and JSON (``render``)."""
