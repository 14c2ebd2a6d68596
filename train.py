"""Train RLlib agents on SMARTS: `python train.py [group=option ...] [key=value ...]`.

See README.md, or `python train.py --help` for the config groups and every key.
"""

import sys

from smarts_rl.cli import main

if __name__ == "__main__":
    sys.exit(main())
