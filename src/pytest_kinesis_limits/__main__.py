"""``python -m pytest_kinesis_limits``: the same as the ``pytest-kinesis-limits`` command."""

import sys

from pytest_kinesis_limits.cli import main

sys.exit(main())
