import sys

from metarl.render.cli import main

sys.exit(main())
