"""Sensor nodes on the controller's side: the key store of paired nodes (``keystore``)."""
