"""The station's pages, in Vietnamese and English.

In: HTTP requests from a browser, checked by `auth`'s guard against `policy`.
Out: HTML pages (fleet, pole, events, event, cases, case, wall, audit, accounts), live parts as
server-sent events, and the JSON API mounted at `/api`. The pages hold no ingest code and no DDL.
"""
