import sys

from pyiqa_uniqa.cli import main

sys.exit(main())
