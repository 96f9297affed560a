"""Alerts to people: the "security gong" on a phone, a pole gone dark, a covered camera.

In: what ingest stored (alarm and health device messages, the fleet's rows, sequence gaps), the
`[notify]` config, snoozes and maintenance, acknowledge links clicked on a phone.
Out: messages on Apprise channels (Telegram, email, ntfy, webhooks), each written first to a
durable outbox (`notify_outbox`) in the same transaction as the watcher's position, so a fact
is told once, a station restart loses none, and every skip says why.

- `notice`: one fact worth telling (kind, pole, camera, facts, picture).
- `watch`: stored rows → notices (cursors over device messages and gaps; pole up/down states).
- `fanout`: a notice → outbox rows per subscription and channel: quiet hours, snooze,
  maintenance, grouping of storms and the per-hour limit, each skip with its reason.
- `messages`: the Vietnamese and English templates, filled in ward time.
- `channels`: one Apprise object per channel; a send's outcome with a masked error.
- `sender`: due outbox rows → channels, with retry, backoff and a dead letter.
- `acks`: signed, expiring, one-use acknowledge links; escalation when nobody acknowledges.
- `snooze`: a pole or camera silenced for a while, in the audit log.
- `stage`: the thread that runs the watcher, fan-out and sender every `poll_s`.
"""
