#!/usr/bin/env python
"""Meta-train a policy: python train.py --algo meta-sgd --env point-goal (see --help)."""

import sys

from metarl.cli import main

if __name__ == "__main__":
    sys.exit(main())
