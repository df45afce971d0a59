"""Train from a checkout: ``python train.py -opt options/uniqa/koniq.yml``.

Same as ``pyiqa-uniqa train``: pyiqa's training pipeline, rooted at the working directory.
"""
import sys

from pyiqa_uniqa.apps.train import main

if __name__ == '__main__':
    sys.exit(main())
