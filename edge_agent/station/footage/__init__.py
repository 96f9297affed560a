"""Footage: clips pulled from the poles' recordings, checked against the chains they sent.

In: the chain records and the segment copies ingest stored; a request from a page, the CLI or an
alarm rule. Out: `cmd/clip` asks to online poles (through a `send` the wiring gives: this room
knows no MQTT), each request's state in a sentence, and the verified segments remuxed into one
MP4 for the browser.

- `requests`: what was asked for, the segments that cover it, and where it stands.
- `puller`: asks the poles for what is wanted, again after a reboot or a restart; closes what is
  finished; asks for every alarm's clip by itself.
"""
