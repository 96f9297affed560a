"""Ingest: an MQTT message in, rows and pictures in the store out, then the PUBACK.

In: every message of contract v1 from each broker (MQTT 5, QoS 1, a persistent session).
Out: event, device, camera, picture and seq-gap rows committed in one transaction per batch, the
pictures on disk before the rows that name them, and only then each message acknowledged.

- `inbox`: what one message is (event, picture, device message, footage record or signed head)
  or a reject with its reason.
- `archive`, `eventrows`, `gaps`, `thumbcheck`: a batch's rows: dedupe, event rows, seq gaps,
  thumbnails that never came.
- `footage`: the poles' footage chains as they come: links checked, heads verified with the
  pole's pinned key, a changed key kept aside and counted.
- `subscriber`: the paho-mqtt clients (one per broker) and the writer thread.
"""
