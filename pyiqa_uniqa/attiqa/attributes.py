"""The five image attributes ATTIQA pre-trains on, in the fixed column order used everywhere.

A high value always means "more of the attribute as named": a noisier image scores higher on
noisiness (CLIP-IQA's convention), so noisiness is the one attribute where higher is worse.
"""
from pyiqa_uniqa.attiqa.errors import InputError

ATTRIBUTES = ('sharpness', 'brightness', 'contrast', 'colorfulness', 'noisiness')


def check_attribute_names(names, source):
    unknown = [name for name in names if name not in ATTRIBUTES]
    if unknown:
        raise InputError(f'{source}: unknown attribute(s) {unknown}; expected some of {list(ATTRIBUTES)}.')
