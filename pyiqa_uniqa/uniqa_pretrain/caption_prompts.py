"""MOS levels and the caption prompt table (``caption_prompts.yml``).

UniQA splits images into five levels (bad, poor, fair, good, perfect) by equal-width bins over the
dataset's MOS range (an image in the top fifth of the range is *perfect*, as the paper's reviewers
describe its MOS-based text guidance), and the level word guides the captioner. The bins are
computed once over the whole dataset, before sharding, so every shard of a captioning job agrees
on them.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyiqa_uniqa.errors import InvalidInputError
from pyiqa_uniqa.options import load_yaml
from pyiqa_uniqa.uniqa_pretrain.captioning_records import CaptionFileError

DEFAULT_PROMPTS = Path(__file__).with_name('caption_prompts.yml')
TASKS = ('quality', 'aesthetics')
_PRISTINE_NAMES = {'', 'none', 'pristine', 'reference', 'nan'}


def mos_levels(mos, num_levels=5, mos_range=None, lower_better=False):
    """Level index (0 = worst) per score: equal-width bins over ``mos_range`` (default: min..max)."""
    mos = np.asarray(mos, dtype=np.float64)
    if mos.size == 0:
        return np.zeros(0, dtype=int)
    if not np.all(np.isfinite(mos)):
        raise InvalidInputError('MOS values must be finite numbers; found NaN or inf.')
    low, high = (float(mos.min()), float(mos.max())) if mos_range is None else map(float, mos_range)
    if high <= low:
        return np.full(mos.shape, num_levels // 2, dtype=int)  # one score for all: the middle level
    position = (mos - low) / (high - low)
    if lower_better:
        position = 1.0 - position
    # the epsilon keeps a score that sits exactly on a bin edge (0.8 * 5 = 3.9999...) in the upper bin
    return np.clip(np.floor(position * num_levels + 1e-9), 0, num_levels - 1).astype(int)


@dataclass(frozen=True)
class CaptionPrompts:
    """The parsed prompt table; see ``caption_prompts.yml`` for the meaning of each field."""
    levels: tuple
    tasks: dict
    severity_words: tuple
    distortion_phrases: dict
    unknown_distortion: str
    pristine: str

    @classmethod
    def load(cls, path=None):
        path = Path(path or DEFAULT_PROMPTS)
        table = load_yaml(path, what='caption prompt table')
        try:
            prompts = cls(
                levels=tuple(table['levels']), tasks=dict(table['tasks']),
                severity_words=tuple(table['severity_words']),
                distortion_phrases=dict(table['distortion_phrases']),
                unknown_distortion=table['unknown_distortion'], pristine=table['pristine'])
        except (KeyError, TypeError) as err:
            raise CaptionFileError(f'{path}: the prompt table lacks the field {err}; see {DEFAULT_PROMPTS}.') from None
        for task, entry in prompts.tasks.items():
            if not {'prompt', 'template'} <= set(entry):
                raise CaptionFileError(f'{path}: task {task!r} needs both "prompt" and "template".')
        return prompts

    def task(self, task):
        if task not in self.tasks:
            raise CaptionFileError(f'Unknown captioning task {task!r}; the prompt table has {sorted(self.tasks)}.')
        return self.tasks[task]

    def prompt(self, task, level):
        """The instruction sent to a vision-language model for an image of ``level``."""
        return self.task(task)['prompt'].format(level=self.levels[level])

    def distortion_sentence(self, distortion, severity):
        """A sentence for a known distortion at ``severity`` (1..5), or for no distortion."""
        name = str(distortion).strip().lower()
        if name in _PRISTINE_NAMES:
            return self.pristine
        word = self.severity_words[min(max(int(severity), 1), len(self.severity_words)) - 1]
        phrase = self.distortion_phrases.get(name, self.unknown_distortion)
        return phrase.format(severity=word, distortion=name.replace('_', ' '))
