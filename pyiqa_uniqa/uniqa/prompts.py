"""UniQA's assessment prompts, as data.

Each prompt set is a tuple of groups; each group holds five prompts ordered from the worst to the
best quality level, so the softmax over a group is a distribution over the five levels. The
wording is the official one (``UniQA_Adapter_Patchtest``, ``..._PromptEs``, ``..._PromptEs_AGIQA``);
'fair image' appears in several ensemble groups on purpose, as in the official code.
"""
from pyiqa_uniqa.errors import UnknownNameError

LEVELS_PER_GROUP = 5

_QUALITY = ('bad image', 'poor image', 'fair image', 'good image', 'perfect image')

PROMPT_SETS = {
    # the five quality levels: the prompts of the paper's main tables
    'level': (_QUALITY,),
    # the official prompt ensemble ("UniQA*"): quality, sharpness, noise and "-quality" wording
    'ensemble': (
        _QUALITY,
        ('extremely blurry image', 'blurry image', 'fair image', 'sharp image', 'extremely sharp image'),
        ('extremely noisy image', 'noisy image', 'fair image', 'noise-free image',
         'extremely noise-free image'),
        ('extremely low-quality image', 'low-quality image', 'fair image', 'high-quality image',
         'extremely high-quality image'),
    ),
    # AI-generated images: image quality and content quality
    'aigc': (
        _QUALITY,
        ('bad content', 'poor content', 'fair content', 'good content', 'perfect content'),
    ),
}


def prompt_groups(name):
    """The groups of the prompt set ``name``; an unknown name lists the known ones."""
    try:
        groups = PROMPT_SETS[name]
    except KeyError:
        raise UnknownNameError(f'Unknown UniQA prompt set {name!r}; choose one of {sorted(PROMPT_SETS)}.') from None
    return groups


def flat_prompts(name):
    """All prompts of a set, group after group (the order the official code tokenises them in)."""
    return tuple(prompt for group in prompt_groups(name) for prompt in group)
