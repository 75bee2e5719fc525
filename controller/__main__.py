"""`python -m controller`: the `edgewarden` command."""

import sys

try:
    from controller.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command is still loading: no traceback
    sys.exit(130)

sys.exit(main())
