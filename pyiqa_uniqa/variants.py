"""Each family's trained variants, stated once: the table that makes its metric names and weight sources.

No official weights exist for UniQA's adapters, ATTIQA or CLIP-AGIQA: every metric of theirs expects
a checkpoint the user trained with one of the recipes here. A family writes one ``TrainedFamily``
as ``VARIANTS`` in its torch-free ``__init__.py``; from that one table come

- ``metrics()``: the pyiqa metric configs (``METRICS``), one per dataset (and the family's default
  name for its first variant), each telling the arch its ``weights_file``;
- ``source(weights_file)``: the ``WeightSource`` the arch searches with and writes its messages
  from (the file, what it is, the recipe that trains it).

This module stays torch-free: the start-up hook reads the tables whenever pyiqa is imported.
"""
import importlib
from dataclasses import dataclass

from pyiqa_uniqa.parts import PARTS, nr_metric
from pyiqa_uniqa.weights import WeightSource


@dataclass(frozen=True)
class Variant:
    """One trained variant: the dataset it is trained on and what follows from it.

    dataset: the dataset's short name; the metric is ``<family prefix>-<dataset>``.
    weights_file: the checkpoint's name in pyiqa's cache dir (``$TORCH_HOME/hub/pyiqa/``).
    recipe: the training recipe, relative to the repository (``options/<family>/<dataset>.yml``).
    score_range: the range of the scores, as pyiqa's configs write it ('0, 1').
    prompt_set: the prompts the variant scores with ('' when the family has none).
    """
    dataset: str
    weights_file: str
    recipe: str
    score_range: str = '0, 1'
    prompt_set: str = ''


@dataclass(frozen=True)
class TrainedFamily:
    """A family's trained variants and how their checkpoints are described.

    arch: the pyiqa arch type that loads them.
    prefix: the metric names' prefix (``uniqa`` -> ``uniqa-koniq``).
    what: what one checkpoint is, for messages ('The UniQA adapter').
    train: how to train one, completing "Train one with ..."; ``{recipe}`` and ``{dataset}`` are filled in.
    variants: the table, one ``Variant`` per dataset.
    default: the dataset whose variant the bare ``prefix`` also names ('' for none).
    options: arch options every variant shares (UniQA: ``use_adapter=True``).
    """
    arch: str
    prefix: str
    what: str
    train: str
    variants: tuple
    default: str = ''
    options: tuple = ()

    def metric_name(self, variant):
        return f'{self.prefix}-{variant.dataset}'

    def metric_config(self, variant):
        prompts = {'prompt_set': variant.prompt_set} if variant.prompt_set else {}
        return nr_metric(self.arch, score_range=variant.score_range, weights_file=variant.weights_file,
                         **prompts, **dict(self.options))

    def metrics(self):
        """metric name -> pyiqa config, for every variant (and the default name)."""
        configs = {self.metric_name(v): self.metric_config(v) for v in self.variants}
        if self.default:
            configs = {self.prefix: self.metric_config(self.variant(dataset=self.default)), **configs}
        return configs

    def variant(self, *, dataset=None, weights_file=None):
        """The variant trained on ``dataset`` or saved as ``weights_file``; None when the table has none."""
        return next((v for v in self.variants if dataset in (None, v.dataset)
                     and weights_file in (None, v.weights_file)), None)

    def source(self, weights_file):
        """The ``WeightSource`` of the checkpoint named ``weights_file`` (a variant's, or any other name)."""
        variant = self.variant(weights_file=weights_file)
        recipe = variant.recipe if variant else f'options/{self.prefix.replace("-", "_")}/<dataset>.yml'
        dataset = variant.dataset if variant else '<dataset>'
        return WeightSource(weights_file, keyword='pretrained_model_path', what=self.what,
                            train=self.train.format(recipe=recipe, dataset=dataset))

    def sources_for(self, weight_sources, weights_file=None):
        """keyword -> ``WeightSource`` of the files a metric config loads: the arch's own ``weight_sources``
        and, when the config names one, the variant's checkpoint (for ``list_pretrained``)."""
        checkpoint = {'pretrained_model_path': self.source(weights_file)} if weights_file else {}
        return {**weight_sources, **checkpoint}


def trained_families():
    """arch -> ``TrainedFamily``, for every part that declares ``VARIANTS``."""
    tables = (getattr(importlib.import_module(f'pyiqa_uniqa.{part}'), 'VARIANTS', None) for part in PARTS)
    return {table.arch: table for table in tables if table is not None}


def trained_metric(metric):
    """(family, variant) of a metric name of the tables ('uniqa-koniq', 'attiqa'); None when no table has it."""
    for family in trained_families().values():
        for variant in family.variants:
            if metric in (family.metric_name(variant), family.prefix if variant.dataset == family.default else None):
                return family, variant
    return None
