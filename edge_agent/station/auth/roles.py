"""The four roles, and where each one lands after logging in."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # accounts, the audit log, the fleet
    POLICE = "police"  # events, cases, exports, the fleet
    VOLUNTEER = "volunteer"  # the fleet, pole pages, the maintenance switch
    RESIDENT = "resident"  # the wall of public snapshots, nothing else


HOME = {Role.ADMIN: "/fleet", Role.POLICE: "/events", Role.VOLUNTEER: "/fleet", Role.RESIDENT: "/wall"}
