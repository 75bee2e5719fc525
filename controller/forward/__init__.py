"""The MQTT forwarder (`edgewarden forward`): a separate, least-privileged process that
subscribes to the control socket and publishes alarms, events, readings and health to a
broker, through an on-disk outbox so nothing is lost while the broker is away."""
