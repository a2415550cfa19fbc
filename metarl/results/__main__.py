import sys

from metarl.results.cli import main

sys.exit(main())
