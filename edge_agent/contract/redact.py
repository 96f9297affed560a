"""Hide secrets in any text before it is shown: one function for every log line, status and error.

A camera URL such as `rtsp://admin:pw@10.0.0.5/stream` carries its password in the clear; the
password must never reach a log, `STATUS=`, a printout, a rejection file or an MQTT reply. `redact`
replaces the password of every `scheme://user:password@host` in a text with `***` (and a bare
`scheme://secret@host`, which some cameras use as a token, likewise), leaving the rest readable
so a technician still sees which camera and which user.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://userinfo@ — userinfo runs to the last '@' before the host part ends (a password may
# itself hold '@', ':' or '/', or any non-ASCII character), and never crosses ASCII whitespace or
# a quote.
_STOP = " \t\r\n\f\v'\"<>"
_URL_USERINFO = re.compile(
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^{_STOP}]*)@(?=[^{_STOP}@]*(?:[{_STOP}]|$))"
)


def _mask(match: re.Match[str]) -> str:
    scheme, userinfo = match.group("scheme"), match.group("userinfo")
    user, sep, _password = userinfo.partition(":")
    if sep:
        return f"{scheme}{user}:{MASK}@"
    return f"{scheme}{MASK}@"


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    if "@" not in text:
        return text
    return _URL_USERINFO.sub(_mask, text)


def redact_secret(text: str, *secrets: str | None) -> str:
    """`redact(text)`, and every non-empty literal secret (a broker password) replaced by `***`."""
    out = redact(text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, MASK)
    return out
