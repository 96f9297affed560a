"""The station's web pages: fleet, pole, events, cases, wall and audit, on the JSON API."""
