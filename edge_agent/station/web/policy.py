"""Who may use which path: the one table the guard enforces (deny by default).

Residents see the wall and nothing else; volunteers the fleet and the maintenance switch; police
the events, pictures and cases (and the fleet); admins the accounts, the audit log and the fleet.
"""

from __future__ import annotations

from edge_agent.station.auth.guard import Rule, rule
from edge_agent.station.auth.roles import Role

A, P, V, R = Role.ADMIN, Role.POLICE, Role.VOLUNTEER, Role.RESIDENT
FLEET = (A, P, V)

RULES: list[Rule] = [
    # open to anyone (the forms still need their CSRF token)
    rule("/"),
    rule("/login", methods=("GET", "POST")),
    rule("/logout", methods=("POST",)),
    rule("/language", methods=("POST",)),
    rule("/static/{path:path}"),
    # an alarm message's acknowledge link: the signed token is the permission
    rule("/notify/ack/{token}", methods=("GET", "POST")),
    # the wall: every role
    rule("/wall", A, P, V, R),
    rule("/wall/live", A, P, V, R),
    rule("/wall/{device}/{camera}.jpg", A, P, V, R),
    # the fleet
    rule("/fleet", *FLEET),
    rule("/fleet/live", *FLEET),
    rule("/poles/{device}", *FLEET),
    rule("/poles/{device}/look", *FLEET),
    rule("/poles/{device}/{camera}/snapshot.jpg", *FLEET),
    rule("/poles/{device}/maintenance", A, V, methods=("POST",)),
    rule("/poles/{device}/snooze", A, V, methods=("POST",)),
    rule("/poles/{device}/key", A, methods=("POST",)),
    # events and cases
    rule("/events", P),
    rule("/events/{device}/{event_id}", P),
    rule("/events/{device}/{event_id}/case", P, methods=("POST",)),
    rule("/pictures/{sha256}", P),
    rule("/events/{device}/{event_id}/footage", P, methods=("POST",)),
    rule("/clips/{id:int}", P),
    rule("/clips/{id:int}.mp4", P),
    rule("/cases", P, methods=("GET", "POST")),
    rule("/cases/{name}", P),
    rule("/cases/{name}/hold", P, methods=("POST",)),
    rule("/cases/{name}/remove", P, methods=("POST",)),
    rule("/cases/{name}/export", P, methods=("POST",)),
    # administration
    rule("/audit", A),
    rule("/notify", A),
    rule("/notify/test", A, methods=("POST",)),
    rule("/notify/{id}/again", A, methods=("POST",)),
    rule("/users", A, methods=("GET", "POST")),
    rule("/users/{name}/disable", A, methods=("POST",)),
    # the JSON API (the station helper's app, behind the same gate)
    rule("/api/events", P),
    rule("/api/events/{device}/{event_id}", P),
    rule("/api/pictures/{sha256}", P),
    rule("/api/fleet", *FLEET),
    rule("/api/counters", A, V),
    rule("/api/cases", P, methods=("GET", "POST")),
    rule("/api/cases/{name}", P, methods=("GET", "POST")),
]
