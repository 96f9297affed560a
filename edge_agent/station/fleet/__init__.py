"""The fleet: each pole's health from what ingest stored, and the actions on poles.

In: the device and camera rows (status, stats, health, last event), seq gaps, maintenance switches.
Out: each pole's state (online, offline, silent) and since when; the delayed offline alert on
MQTT; the maintenance switch (audited); `add-pole`'s broker password and boot-partition lines.

- `state`: the fleet as a list of poles; `offline`: the alert; `maintenance`; `enrol`: add-pole.
"""
