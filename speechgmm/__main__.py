import sys

from speechgmm.cli import main

sys.exit(main())
