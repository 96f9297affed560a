"""Accounts and access: a login in, a user with a role out.

In: names and passwords, session cookies, CSRF tokens. Out: argon2id password hashes, sessions
known by the sha256 of their token, roles (admin, police, volunteer, resident), the guard that
checks each request against the web's policy, failed-login limits; logins in the audit log.
"""
