"""python -m metarl.check_env SPEC"""

import sys

from metarl.check_env.cli import main

sys.exit(main())
