import sys

from tritune.cli import main

sys.exit(main())
