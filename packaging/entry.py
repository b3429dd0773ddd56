"""The bundle's entry point: the same `pmdesk` command as the installed package."""

import sys

from pmdesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
