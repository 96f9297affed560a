"""Delivery: messages kept on the card until the broker has them, and what comes back from it.

The SQLite outbox (`outbox`), the MQTT client that drains it (`mqtt`), the device's sequence
numbers (`seqstore`), commands on `P/D/cmd/<name>` (`commands`) and Home Assistant discovery
(`homeassistant`). It knows no stage: it moves `edge_agent.contract` messages.
"""
