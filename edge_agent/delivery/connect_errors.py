"""Why the broker cannot be reached, in words a technician can act on.

paho calls `on_connect_fail` from inside its `except OSError` block, so the exception is at hand
(`sys.exc_info()`); before, every cause was logged as "cannot reach broker", and a wrong CA file
looked like a network fault.
"""

from __future__ import annotations

import socket
import ssl
import sys


def describe(exc: BaseException | None) -> str:
    """One line naming the cause of a failed connection attempt and what to check."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the broker's TLS certificate is not trusted ({exc.verify_message}): check that "
            "mqtt.ca_file is the CA that signed it and that mqtt.url names the host it was issued for"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"the TLS handshake failed ({exc.reason or exc}): check mqtt.url's scheme and port "
            "and the certificates"
        )
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: is the broker running, and is mqtt.url's port right?"
    if isinstance(exc, socket.gaierror):
        return "the broker's host name cannot be resolved: check mqtt.url and the DNS"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer (timed out): check the network between the pole and the broker"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "unreachable"


def current() -> BaseException | None:
    """The exception being handled (paho's, when called from on_connect_fail)."""
    return sys.exc_info()[1]
