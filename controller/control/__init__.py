"""The local control socket: Unix stream socket, peer credentials, roles, NDJSON protocol.

``protocol`` (wire format), ``roles`` (SO_PEERCRED -> role), ``commands`` (command table),
``server`` (asyncio server), ``client`` (blocking and asyncio clients). The test double of
the service's handlers is ``tests/service/fake_service.py``. No TCP/UDP anywhere.
"""
