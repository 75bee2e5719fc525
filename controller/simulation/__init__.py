"""The simulated site: nodes running the real firmware over ptys, a fleet of them, the demo.

``node`` (one reference node on a pty), ``fleet`` (several, paired), ``site`` (the demo's
config, store and fleet). Used by ``edgewarden demo``, ``simulate-node``, tests and benches.
"""
