"""The gym's fleet link: each treadguard publishes its status and events to an MQTT broker
(mosquitto), and a dashboard shows every treadmill and can send the one remote command there
is, ``stop`` (``docs/fleet.md``). Nothing here runs in the loop's tick, and nothing here can
start a belt or raise a speed."""
