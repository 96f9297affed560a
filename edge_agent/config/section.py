"""What every config section shares: unknown keys are errors; one bound may follow another key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationInfo


def not_below(v: float, info: ValidationInfo, other: str) -> float:
    """`v`, or a ValueError when it is below the sibling key `other` (already validated)."""
    low = info.data.get(other)
    if low is not None and v < low:
        raise ValueError(f"must not be less than {other} ({low})")
    return v


class Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
