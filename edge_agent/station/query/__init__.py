"""Query: questions to the archive in, rows as plain dicts out.

In: a search (poles, cameras, time range, labels, zones, lines, least score) or an event id.
Out: events newest first with a keyset cursor; one event with its messages and pictures; instants
as ISO 8601 UTC strings. Reads only; writes nothing.
"""
