"""`edge-agent station …`: the command line, at the top of the station with `service`.

In: arguments and the config file. Out: one command run on the rooms below, its result on stdout
(JSON where a program reads it), and an exit status: 1 a failed verification, 2 bad configuration
or arguments, 3 the database cannot be reached, 4 a case or pole problem.

- `parser`: the arguments and the config (one message and status 2 for a bad one).
- `commands`: run, search, fleet, cases, export, verify, audit, retention, add-pole.
"""
