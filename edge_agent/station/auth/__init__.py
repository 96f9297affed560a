"""Accounts, roles, sessions, CSRF and login rate limiting for the station's web pages."""
