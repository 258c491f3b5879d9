"""Annotations under ``from __future__ import annotations``: strings until evaluated."""

from __future__ import annotations

P_FUTURE_ANNOTATION = int


def annotated(x: P_FUTURE_ANNOTATION) -> None:
    return None
