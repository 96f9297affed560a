"""The pole agent: the stages wired into one data path, and the programs that run it.

`pipeline` (the data path in one screen) and the messages it makes itself (`pipeline_messages`);
`service` (`edge-agent run`: camera, delivery, stats, commands, systemd's `notify`); `replay` and
its folder output (`replay_output`), `demo`, `progress`; `health` (the stats message); `sink`
(where messages go). Only this package knows every stage.
"""
