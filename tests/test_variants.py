"""Each family's variant table makes its metric names and weight sources, and every recipe it names exists."""
from pathlib import Path

import pytest

from pyiqa_uniqa.attiqa import METRICS as ATTIQA_METRICS
from pyiqa_uniqa.attiqa import VARIANTS as ATTIQA
from pyiqa_uniqa.clip_agiqa import METRICS as CLIP_AGIQA_METRICS
from pyiqa_uniqa.clip_agiqa import VARIANTS as CLIP_AGIQA
from pyiqa_uniqa.uniqa import METRICS as UNIQA_METRICS
from pyiqa_uniqa.uniqa import VARIANTS as UNIQA

REPOSITORY = Path(__file__).resolve().parents[1]
FAMILIES = [(UNIQA, UNIQA_METRICS), (ATTIQA, ATTIQA_METRICS), (CLIP_AGIQA, CLIP_AGIQA_METRICS)]


@pytest.mark.parametrize('family, metrics', FAMILIES, ids=lambda f: getattr(f, 'prefix', ''))
def test_the_table_makes_each_metric_and_names_an_existing_recipe(family, metrics):
    for variant in family.variants:
        config = metrics[family.metric_name(variant)]
        assert config['metric_opts']['type'] == family.arch
        assert config['metric_opts']['weights_file'] == variant.weights_file
        assert config['score_range'] == variant.score_range
        assert (REPOSITORY / variant.recipe).is_file(), variant.recipe
    if family.default:
        assert metrics[family.prefix] == metrics[f'{family.prefix}-{family.default}']


@pytest.mark.parametrize('family', [UNIQA, ATTIQA, CLIP_AGIQA], ids=lambda f: f.prefix)
def test_the_weight_source_comes_from_the_table(family):
    variant = family.variants[-1]
    source = family.source(variant.weights_file)
    assert source.filename == variant.weights_file and source.keyword == 'pretrained_model_path'
    assert f'pyiqa-uniqa train -opt {variant.recipe}' in source.how_to_get()
    other = family.source('my_run.pth')  # a name outside the table still says how to train one
    assert other.filename == 'my_run.pth' and '<dataset>.yml' in other.how_to_get()


def test_a_missing_checkpoint_names_the_file_and_its_recipe(tmp_path, monkeypatch):
    import pyiqa

    from pyiqa_uniqa.weights import WeightsNotFoundError
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=r"attiqa_spaq\.pth.*options/attiqa/spaq\.yml"):
        pyiqa.create_metric('attiqa-spaq', device='cpu', backbone='test_resnet')


def test_each_arch_lists_the_files_of_a_metric_config_from_the_table():
    from pyiqa_uniqa.clip_agiqa.arch import CLIPAGIQA
    from pyiqa_uniqa.uniqa.arch import UniQA
    sources = UniQA.sources_for(**UNIQA_METRICS['uniqa-ava']['metric_opts'])
    assert sources['pretrained_model_path'] == UNIQA.source('uniqa_ava_adapter.pth')
    assert sources['backbone_weights'].filename == 'UniQA_weight.pt'
    assert 'pretrained_model_path' not in UniQA.sources_for(**UNIQA_METRICS['uniqa']['metric_opts'])  # zero-shot
    assert CLIPAGIQA.sources_for(weights_file='clip_agiqa_aigciqa2023.pth')['pretrained_model_path'].filename == \
        'clip_agiqa_aigciqa2023.pth'
