import sys

from pyiqa_uniqa.apps.cli import main

sys.exit(main())
