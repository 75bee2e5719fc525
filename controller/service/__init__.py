"""The running service: life cycle (``lifecycle``), control handlers (``handlers``), health.

``edgewarden run`` and ``edgewarden demo`` import :class:`Service` from here.
"""

from controller.service.lifecycle import Service

__all__ = ["Service"]
