"""UniQA's assessment prompts, as data.

Each prompt set is a tuple of groups; each group holds five prompts ordered from the worst to the
best quality level, so the softmax over a group is a distribution over the five levels. The
wording of ``level``, ``ensemble`` and ``aigc`` is the official one (``UniQA_Adapter_Patchtest``,
``..._PromptEs``, ``..._PromptEs_AGIQA``); 'fair image' appears in several ensemble groups on purpose,
as in the official code.

``caption-level`` is ours: the level sentence that opens every quality caption of UniQA's
pre-training ("The quality of the image is bad." ... "perfect."; the template of
``uniqa_pretrain/caption_prompts.yml`` and the opening the MLLM captioner is asked for). A text tower
pre-trained on such captions has learned those words; the official prompts ("bad image") may be
words it never met, as for a small CLIP pre-trained from scratch (``pyiqa-uniqa demo``), so it can
only show zero-shot quality assessment with these.
"""
from pyiqa_uniqa.errors import UnknownNameError

LEVELS_PER_GROUP = 5

LEVEL_WORDS = ('bad', 'poor', 'fair', 'good', 'perfect')
_QUALITY = tuple(f'{word} image' for word in LEVEL_WORDS)

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
    # the level sentence of the pre-training captions (see the module docstring)
    'caption-level': (tuple(f'The quality of the image is {word}.' for word in LEVEL_WORDS),),
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
