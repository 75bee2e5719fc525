"""One module per screen; each composes widgets and talks to the app, never the socket."""
