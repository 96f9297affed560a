"""The ward station: archives, searches and shows what every pole publishes.

A message passes through the sub-packages in this order (each imports only those below it;
`lint-imports` keeps it so):

    broker ─▶ ingest ─▶ store ◀─ query / footage ◀─ evidence ◀─ fleet ◀─ api / auth / notify ◀─ web
                                                    wired by service (`station run`) and cli

- `store/`: the database (schema, migrations, engine, statements) and the picture files.
- `ingest/`: MQTT message → rows, acknowledged after commit.
- `query/`: search and the event detail over the store.
- `footage/`: clips pulled from the poles (asked for by page, CLI or alarm rule, resumed after any
  restart) and checked against the chains the poles sent; remuxed for the browser.
- `evidence/`: cases, BagIt export and verify, the hash-chained audit log.
- `fleet/`: each pole's state, the offline alert, maintenance, adding a pole.
- `notify/`: alerts to people (alarms, a pole gone dark, camera health) on Apprise channels,
  through a durable outbox; it reads what ingest stored, never the broker.
- `api/`: the JSON API; `auth/`: accounts, sessions, roles; `web/`: the pages.
- `cli/`, `service.py`, `config/`, `errors.py`: the wiring on top (`config/notify.py` holds the
  `[notify]` section).

- `city/`: many wards in one PostgreSQL: a ward's publication and a city's subscriptions,
  partitioned by ward (`docs/city.md`).

It imports only `edge_agent.contract` from the pole side, never a stage, OpenCV or onnxruntime.
"""
