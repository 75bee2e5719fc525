"""OS integration: systemd notifications (``sdnotify``), journald logging (``journal``),
``edgewarden install`` (``install``) and ``edgewarden doctor`` (``doctor``)."""
