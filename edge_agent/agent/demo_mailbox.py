"""The demo's mailbox: aiosmtpd's own SMTP server writing a Maildir in OUT/mailbox, where the
ward station's `[notify]` mails the demo pole's alarm (the "gong" of docs/alerts.md)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

from edge_agent.agent.loopback import free_port, listening

SERVER = [sys.executable, "-m", "aiosmtpd", "-n"]
WAIT_FOR_SERVER_S = 10.0
WAIT_FOR_MAIL_S = 30.0


class DemoMailbox:
    """aiosmtpd's own server (`python -m aiosmtpd`) on a free loopback port, writing a Maildir."""

    def __init__(self, out: Path) -> None:
        self.dir = out / "mailbox"
        shutil.rmtree(self.dir, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)  # the Maildir is made in it, not its parents
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*SERVER, "-l", f"127.0.0.1:{self.port}", "-c", "aiosmtpd.handlers.Mailbox", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not listening(self.port, WAIT_FOR_SERVER_S):
            self.stop()
            raise RuntimeError(f"the demo's SMTP server (aiosmtpd) did not start on port {self.port}")

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=station@demo.local&to=volunteer@demo.local&mode=insecure"

    def first(self, timeout: float) -> Path | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = sorted((self.dir / "new").glob("*")) if (self.dir / "new").is_dir() else []
            if mails:
                return mails[0]
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def mailbox_installed() -> bool:
    return importlib.util.find_spec("aiosmtpd") is not None


def show_mail(mailbox: DemoMailbox) -> None:
    mail = mailbox.first(WAIT_FOR_MAIL_S)
    if mail is None:
        print(f"demo: no alarm mail reached {mailbox.dir} within {WAIT_FOR_MAIL_S:.0f} s (see station.log)")
        return
    subject = next(
        (
            line.split(":", 1)[1].strip()
            for line in mail.read_text(errors="replace").splitlines()
            if line.lower().startswith("subject:")
        ),
        "?",
    )
    print(f"demo: the station mailed the alarm to the demo's mailbox: {mail}")
    print(f"demo:   Subject: {decode_subject(subject)}")


def decode_subject(raw: str) -> str:
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError):
        return raw
