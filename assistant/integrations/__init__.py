"""The daemon's citizens of the outside world: MQTT, systemd."""
