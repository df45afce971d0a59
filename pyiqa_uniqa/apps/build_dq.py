"""``pyiqa-uniqa build-dq``: ground-truth-informed brief samples (DQ-495K JSON) from an image folder.

The building itself is ``pyiqa_uniqa.depictqa.build_dq.build`` (also used by ``DQ495KDataset``'s
``build_dq`` option); this module is its command line.
"""
import json
from pathlib import Path

from pyiqa_uniqa.depictqa.build_dq import MIN_SOURCE_SIDE, SKIMAGE_PHOTOS, BuildOptions, build


def add_arguments(parser):
    defaults = BuildOptions()
    parser.add_argument('--images', required=True,
                        help=f"folder of pristine images (searched recursively), or '{SKIMAGE_PHOTOS}' "
                             'for the colour photos shipped with scikit-image')
    parser.add_argument('--out', required=True, help='output JSON (images go to <out stem>_images/ beside it)')
    parser.add_argument('--size', type=int, default=defaults.size, help='short side of the photos (downscale only)')
    parser.add_argument('--identify-per-image', type=int, default=defaults.identify_per_image)
    parser.add_argument('--pairs-per-image', type=int, default=defaults.pairs_per_image)
    parser.add_argument('--levels-per-image', type=int, default=defaults.levels_per_image)
    parser.add_argument('--settings', default='fr,nr', help='fr, nr or fr,nr')
    parser.add_argument('--tasks', default=','.join(defaults.tasks), help='identify, rate_ab, rate_level')
    parser.add_argument('--distortions', default=None, help='comma-separated subset of the distortion library')
    parser.add_argument('--pair-types', choices=('same', 'any'), default=defaults.pair_types,
                        help="A/B pairs: one distortion type at two severities (or pristine), or any two types")
    parser.add_argument('--min-gap', type=int, default=defaults.min_gap,
                        help='smallest severity difference of an A/B pair')
    parser.add_argument('--test-images', type=int, default=0,
                        help='hold out this many source images as a test set (<out stem>_test.json)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run(args):
    def split(text):
        return tuple(part.strip() for part in text.split(',') if part.strip())

    options = BuildOptions(
        size=args.size, identify_per_image=args.identify_per_image, pairs_per_image=args.pairs_per_image,
        levels_per_image=args.levels_per_image, settings=split(args.settings), tasks=split(args.tasks),
        distortions=split(args.distortions) if args.distortions else None, test_images=args.test_images,
        pair_types=args.pair_types, min_gap=args.min_gap, seed=args.seed)
    result = build(args.images, args.out, options, progress=not args.quiet)
    for split_name in ('train', 'test'):
        if result[split_name] is not None:
            count = len(json.loads(Path(result[split_name]).read_text()))
            print(f'{split_name}: {count} samples -> {result[split_name]}')
    if result['skipped']:
        print(f"skipped (unreadable or smaller than {MIN_SOURCE_SIDE} px): {', '.join(result['skipped'])}")
    return 0
