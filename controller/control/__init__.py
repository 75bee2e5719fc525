"""The local control socket: Unix stream socket, peer credentials, roles, NDJSON protocol.

``protocol`` (wire format), ``roles`` (SO_PEERCRED -> role), ``commands`` (command table),
``server`` (asyncio server), ``client`` (blocking and asyncio clients), ``fake_service``
(handlers for tests and UI development). No TCP/UDP anywhere.
"""
