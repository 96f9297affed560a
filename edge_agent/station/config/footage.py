"""The `[footage]` section: how the station pulls video from the poles."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FootageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    pre_s: float = Field(5.0, ge=0, le=300, description="an event's clip starts this long before it")
    post_s: float = Field(5.0, ge=0, le=300, description="an event's clip ends this long after it")
    auto_alarms: bool = Field(
        True, description="pull the clip of every alarm's event by itself, once the event has ended"
    )
    ask_every_s: float = Field(
        60.0, ge=5, le=3600, description="ask an online pole again for what has not come after this long"
    )
    keep_days: float = Field(
        30.0, gt=0, le=3650, description="pulled segments not in a held case are deleted after this"
    )
    records_days: float = Field(
        14.0,
        gt=0,
        le=3650,
        description="the poles' chain records are kept this long (those a kept clip needs, longer)",
    )
