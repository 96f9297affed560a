"""The newcomer's demo ends with the demo's alarm mailed to a local mailbox the demo started
(the station's `[notify]` on aiosmtpd's own server), besides the events through mosquitto, and
with the alarm's clip pulled from the demo pole's footage by the station."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from pathlib import Path

import pytest

from edge_agent.agent.demo import run_demo


@pytest.mark.slow
def test_the_demo_mails_its_alarm_to_a_local_mailbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (scripts/test.sh installs it)")
    seen: list[str] = []
    assert run_demo(tmp_path / "out", with_station=lambda url, password: seen.append(url)) == 0
    out = capsys.readouterr().out
    assert seen, out
    mails = sorted((tmp_path / "out" / "mailbox" / "new").glob("*"))
    assert mails, out
    assert "demo: the station mailed the alarm to the demo's mailbox" in out
    assert "Subject: 🔔 Báo động: ô tô tại cột demo" in out, out
    pulled = re.search(r"the station pulled (\d+) of them for the alarms' events", out)
    assert pulled is not None and int(pulled.group(1)) >= 2, out
    mail = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert mail["Subject"].startswith("🔔 Báo động")
    assert any(p.get_content_type() == "image/jpeg" for p in mail.iter_attachments())  # type: ignore[attr-defined]
