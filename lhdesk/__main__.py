"""`python -m lhdesk` does what the `lhdesk` command does."""

import sys

from lhdesk.cli import main

sys.exit(main())
