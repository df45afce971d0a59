"""The public API at the package root: every name in ``__all__`` resolves, lazily, and the listing is right."""
import subprocess
import sys

import pytest

import pyiqa_uniqa
from pyiqa_uniqa.configs import METRIC_CONFIGS


def test_every_public_name_resolves_without_importing_torch_first():
    code = ('import sys, pyiqa_uniqa as p; torch_after_import = "torch" in sys.modules; '
            'names = [n for n in p.__all__ if n not in ("score_images", "list_pretrained")]; '
            '[getattr(p, n) for n in names]; print(torch_after_import, "torch" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['False', 'False']  # neither the import nor the errors/weights vocabulary need torch


def test_all_lists_exactly_what_dir_shows():
    public = [name for name in dir(pyiqa_uniqa) if not name.startswith('_')]
    assert sorted(public) == sorted(n for n in pyiqa_uniqa.__all__ if not n.startswith('_'))
    for name in pyiqa_uniqa.__all__:
        assert getattr(pyiqa_uniqa, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'scoring'"):
        pyiqa_uniqa.scoring  # noqa: B018 - the README's old, wrong pointer


def test_score_images_is_the_scoring_function():
    from pyiqa_uniqa.apps.scoring.engine import score_images
    assert pyiqa_uniqa.score_images is score_images


@pytest.mark.parametrize('name, builtin', [('InvalidOptionError', ValueError), ('UnknownNameError', ValueError),
                                           ('InvalidInputError', ValueError), ('MissingFileError', FileNotFoundError),
                                           ('WeightsNotFoundError', FileNotFoundError)])
def test_each_error_is_a_user_error_and_the_builtin_callers_catch(name, builtin):
    error = getattr(pyiqa_uniqa, name)
    assert issubclass(error, pyiqa_uniqa.UserError) and issubclass(error, builtin)


def test_list_metrics_filters_the_declared_names():
    assert pyiqa_uniqa.list_metrics() == sorted(METRIC_CONFIGS)
    assert pyiqa_uniqa.list_metrics('clip-agiqa*') == ['clip-agiqa', 'clip-agiqa-agiqa3k', 'clip-agiqa-aigciqa2023']
    assert pyiqa_uniqa.list_metrics('nothing-*') == []


def test_list_pretrained_names_each_file_and_where_it_comes_from():
    listing = pyiqa_uniqa.list_pretrained('uniqa*')
    assert sorted(listing) == pyiqa_uniqa.list_metrics('uniqa*')
    assert list(listing['uniqa']) == ['backbone_weights']  # zero-shot: the CLIP backbone only
    backbone, adapter = listing['uniqa-koniq']['backbone_weights'], listing['uniqa-koniq']['pretrained_model_path']
    assert backbone.filename == 'UniQA_weight.pt' and 'github.com/zht8506/UniQA' in backbone.how_to_get()
    assert adapter.filename == 'uniqa_koniq_adapter.pth' and 'options/uniqa/koniq.yml' in adapter.how_to_get()
    agiqa = pyiqa_uniqa.list_pretrained('clip-agiqa-aigciqa2023')['clip-agiqa-aigciqa2023']
    assert agiqa['pretrained_model_path'].filename == 'clip_agiqa_aigciqa2023.pth'


def test_an_unknown_metric_is_named_with_the_known_ones():
    from pyiqa_uniqa.catalog import weight_sources
    with pytest.raises(pyiqa_uniqa.UnknownNameError, match="'uniqa-nope' is not a metric.*uniqa-koniq"):
        weight_sources('uniqa-nope')


def test_list_pretrained_gives_depictqa_its_three_files_and_the_release_url():
    depictqa = pyiqa_uniqa.list_pretrained('depictqa')['depictqa']
    assert list(depictqa) == ['backbone_weights', 'language_model', 'pretrained_model_path']
    assert depictqa['pretrained_model_path'].url.startswith('https://huggingface.co/zhiyuanyou/DepictQA2-DQ495K/')


def test_docs_api_page_describes_every_public_name():
    from pathlib import Path
    page = (Path(__file__).parents[1] / 'docs' / 'api.md').read_text(encoding='utf-8')
    undocumented = [name for name in pyiqa_uniqa.__all__ if name != '__version__' and f'`{name}' not in page]
    assert not undocumented
