"""The city: many wards' archives in one PostgreSQL, by PostgreSQL's own logical replication.

In: each ward's publication (`publish`, run on the ward). Out: the city's tables partitioned by
ward, one subscription per ward (`subscribe`), and what PostgreSQL says of each. The search and
fleet of the station run on these tables as they do on a ward's.

- `publish`: the ward's side: wal_level checked, the WAL a city may hold back capped, the rows
  stamped with the ward's id and keyed (station, key), a role and a publication.
- `subscribe`: the city's side: the partitioned tables, a ward's partitions and subscription, and
  each subscription's state.
"""
