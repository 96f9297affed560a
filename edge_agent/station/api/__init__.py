"""The JSON API: HTTP requests in (the web's guard has checked the login), JSON out.

In: search parameters, event ids, picture sha256s, case changes.
Out: search results, events, pictures, the fleet, cases and counters as JSON; every search, view
and case change written to the audit log. Mounted under `/api` by the web app.
"""
