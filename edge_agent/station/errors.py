"""The station's user-caused errors and their exit statuses."""

from __future__ import annotations

EXIT_FAILED, EXIT_CONFIG, EXIT_DATABASE, EXIT_CASE = 1, 2, 3, 4


class UserError(Exception):
    """One message naming the cause and what to do, and the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
