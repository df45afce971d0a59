"""Candidate antonym prompt pairs per attribute, (positive, negative).

The positive prompt describes a high value of the attribute as named (for noisiness: a noisy
image). The first pair of each list is CLIP-IQA's official pair and the fallback when no
selection was run; the rest are hand-written candidates in the same spirit (the paper's
LLM-generated candidates are not public). ``pyiqa-uniqa select-prompts`` keeps one pair each.
"""

PROMPT_BANK = {
    'sharpness': [
        ('Sharp photo.', 'Blurry photo.'),
        ('Sharp image', 'blurry image'),
        ('sharp edges', 'blurry edges'),
        ('a photo in sharp focus', 'an out-of-focus photo'),
        ('a crisp, detailed photo', 'a soft, smeared photo'),
        ('High resolution image', 'low resolution image'),
    ],
    'brightness': [
        ('Bright photo.', 'Dark photo.'),
        ('a bright image', 'a dark image'),
        ('a well-lit photo', 'a dimly lit photo'),
        ('an overexposed photo', 'an underexposed photo'),
        ('a photo taken in daylight', 'a photo taken at night'),
    ],
    'contrast': [
        ('High contrast photo.', 'Low contrast photo.'),
        ('a high contrast image', 'a low contrast image'),
        ('a photo with deep blacks and bright whites', 'a washed-out, hazy photo'),
        ('a vivid, punchy photo', 'a flat, faded photo'),
        ('strong contrast', 'weak contrast'),
    ],
    'colorfulness': [
        ('Colorful photo.', 'Dull photo.'),
        ('a colorful image', 'a colorless image'),
        ('a vibrant, saturated photo', 'a desaturated photo'),
        ('a photo full of vivid colors', 'a black and white photo'),
        ('rich colors', 'faded colors'),
    ],
    'noisiness': [
        ('Noisy photo.', 'Clean photo.'),
        ('noisy image', 'noise-free image'),
        ('a grainy photo', 'a smooth photo'),
        ('a photo with sensor noise', 'a photo without noise'),
        ('a speckled, noisy image', 'a clean image'),
    ],
}

DEFAULT_PAIRS = {attribute: pairs[0] for attribute, pairs in PROMPT_BANK.items()}
