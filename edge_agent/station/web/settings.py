"""The `[web]` section of the station's config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Literal["vi", "en"] = Field("vi", description="the pages' language (each user may switch)")
    public_poles: list[str] = Field(
        default_factory=list, description="poles whose latest snapshot residents may see on the wall"
    )
    cookie_secure: bool = Field(True, description="session cookie only over HTTPS (and localhost)")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="a login lasts this long")
    login_max_failures: int = Field(5, ge=1, le=100, description="failed logins per account in the window")
    login_window_s: float = Field(900.0, gt=0, description="the failed-login window")
    live_interval_s: float = Field(2.0, gt=0, le=60, description="how often live pages are refreshed")
    live_max_s: float = Field(
        300.0, gt=0, description="a live stream ends after this; the browser reconnects"
    )
    events_per_page: int = Field(60, ge=1, le=500)
