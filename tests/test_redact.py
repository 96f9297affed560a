"""`redact` hides the password of every URL in a text, whatever the password holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.contract import redact, redact_secret

# What a password in a URL can hold in practice: anything printable but whitespace and quotes.
PASSWORD = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_characters="'\"<>"),
    min_size=4,
    max_size=40,
).filter(lambda p: p.strip() == p)


def test_camera_url_keeps_user_and_host() -> None:
    assert redact("rtsp://admin:pw1234@10.0.0.5:554/stream1") == "rtsp://admin:***@10.0.0.5:554/stream1"
    assert redact("camera rtsp://admin:p@ss@cam.local/s lost") == "camera rtsp://admin:***@cam.local/s lost"
    assert redact("mqtts://token123@broker:8883") == "mqtts://***@broker:8883"


def test_text_without_credentials_is_unchanged() -> None:
    for text in ["no url here", "rtsp://10.0.0.5/stream", "mail pole17@ward.example", ""]:
        assert redact(text) == text


@given(password=PASSWORD, user=st.from_regex(r"[a-z]{1,8}", fullmatch=True), prefix=st.text(max_size=20))
def test_no_password_survives(password: str, user: str, prefix: str) -> None:
    text = f"{prefix} camera 'rtsp://{user}:{password}@cam.local:554/s' lost (rtsp://{user}:{password}@x)"
    out = redact(text)
    assert f":{password}@" not in out
    assert "cam.local:554/s" in out


def test_literal_secret_is_hidden_too() -> None:
    assert redact_secret("broker refused password hunter22", "hunter22", None, "") == (
        "broker refused password ***"
    )
