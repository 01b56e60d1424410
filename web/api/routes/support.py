"""API endpoints: support (issue 18)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["support"])
