"""Round trip of a shared model, offline: train a tiny demo recipe, export it, load it from the folder and from
a Hugging Face cache laid out as huggingface_hub lays it out: the same scores as the checkpoint, to 1e-6."""
import argparse
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
import yaml

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.model_folder import ModelFolderError
from pyiqa_uniqa.weights import UnsafeWeightsError, WeightsNotFoundError

OPTIONS = Path(__file__).resolve().parents[2] / 'options'
FEW_PHOTOS = '[astronaut,chelsea,coffee,rocket]'
SMALL = [f'datasets:{phase}:build_opts:{key}' for phase in ('train', 'val')
         for key in (f'photos={FEW_PHOTOS}', 'size=64')] + ['train:total_epoch=1', 'val:val_freq=4']
RUNS = {  # metric -> (recipe, its --force_yml for a run of a few seconds, the options to load its checkpoint with)
    'uniqa-koniq': (OPTIONS / 'uniqa' / 'demo.yml', SMALL,
                    {'model_name': 'tiny-clip-32px-quickgelu', 'backbone_weights': 'random', 'crop_size': 32,
                     'num_crops': 32}),
    'attiqa': (OPTIONS / 'attiqa' / 'demo_finetune.yml',
               SMALL + ['path:pretrain_network=None', 'datasets:train:augment:random_crop=48',
                        'datasets:val:augment:center_crop=48'],
               {'backbone': 'test_resnet', 'head_hidden': 64}),
}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """metric -> its experiment folder, each trained by `pyiqa-uniqa train` on four photos for one epoch."""
    from pyiqa_uniqa.apps import train
    root = tmp_path_factory.mktemp('runs')
    here = os.getcwd()
    os.chdir(root)
    try:
        for recipe, force_yml, _ in RUNS.values():
            train.run(argparse.Namespace(opt=str(recipe), force_yml=force_yml, launcher='none', auto_resume=False,
                                         debug=False, local_rank=0, strict_options=True))
    finally:
        os.chdir(here)
    return {metric: root / 'experiments' / yaml.safe_load(recipe.read_text())['name']
            for metric, (recipe, _, _) in RUNS.items()}


@pytest.fixture(scope='module')
def images():
    torch.manual_seed(0)
    return torch.rand(3, 3, 64, 80)


def export(trained, metric, out):
    assert main(['export-model', str(trained[metric]), '--metric', metric, '--out', str(out)]) == 0
    return out


def scores(metric, images, **options):
    import pyiqa
    with torch.no_grad():
        return pyiqa.create_metric(metric, device='cpu', **options)(images).flatten()


def hub_cache(cache, repo_id, folder, revision='0123456789abcdef0123456789abcdef01234567'):
    """``folder`` in a Hugging Face cache as huggingface_hub lays one out (refs/main -> snapshots/<rev>)."""
    repo = cache / ('models--' + repo_id.replace('/', '--'))
    shutil.copytree(folder, repo / 'snapshots' / revision)
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text(revision)
    return repo


@pytest.mark.parametrize('metric', sorted(RUNS))
def test_an_exported_model_scores_as_its_checkpoint_from_the_folder_and_the_hub_cache(
        metric, trained, images, tmp_path, monkeypatch):
    from huggingface_hub import constants
    folder = export(trained, metric, tmp_path / 'model')
    assert sorted(p.name for p in folder.iterdir()) == ['README.md', 'config.json', 'model.safetensors', 'recipe.yml']
    config = json.loads((folder / 'config.json').read_text())
    assert config['metric'] == metric and config['options'].items() >= {
        k: v for k, v in RUNS[metric][2].items()}.items()

    checkpoint = trained[metric] / 'models' / 'net_best.pth'
    expected = scores(metric, images, pretrained_model_path=str(checkpoint), **RUNS[metric][2])
    from_folder = scores(metric, images, pretrained_model_path=str(folder))  # the folder brings its options
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path / 'hub'))
    hub_cache(tmp_path / 'hub', 'someone/my-model', folder)
    from_hub = scores(metric, images, pretrained_model_path='hf-hub:someone/my-model')
    assert torch.allclose(from_folder, expected, atol=1e-6, rtol=0)
    assert torch.allclose(from_hub, expected, atol=1e-6, rtol=0)
    assert expected.std() > 0  # trained weights, not a constant


def test_the_model_card_holds_the_hub_metadata_and_the_runs_best_validation(trained, tmp_path):
    folder = export(trained, 'uniqa-koniq', tmp_path / 'model')
    card = (folder / 'README.md').read_text()
    _, metadata, body = card.split('---\n', 2)
    metadata = yaml.safe_load(metadata)
    assert metadata['library_name'] == 'pyiqa-uniqa' and metadata['license'] == 'other'
    results = metadata['model-index'][0]['results'][0]
    log = next(trained['uniqa-koniq'].glob('train_*.log')).read_text()
    best_srcc = log.rsplit('# srcc: ', 1)[1].split('Best: ')[1].split(' @')[0]  # the last line's best
    assert {m['type']: m['value'] for m in results['metrics']}['srcc'] == round(float(best_srcc), 4)
    assert 'pretrained_model_path=' in body and 'photos_train' in body and '| crop_size | `32` |' in body


def test_a_folder_of_another_family_is_refused_with_what_it_is(trained, tmp_path):
    import pyiqa
    folder = export(trained, 'uniqa-koniq', tmp_path / 'model')
    with pytest.raises(ModelFolderError, match=r"holds a UniQA adapter \(metric 'uniqa-koniq'\), not an ATTIQA model"):
        pyiqa.create_metric('attiqa', device='cpu', pretrained_model_path=str(folder))


@pytest.fixture
def folder_copy(trained, tmp_path):
    return export(trained, 'attiqa', tmp_path / 'model')


def _edit_config(folder, **changes):
    config = json.loads((folder / 'config.json').read_text())
    config.update(changes)
    (folder / 'config.json').write_text(json.dumps(config))


HOSTILE_CONFIGS = {
    'asks for code': ({'trust_remote_code': True, 'auto_map': {'AutoModel': 'evil.Model'}}, UnsafeWeightsError,
                      'auto_map, trust_remote_code'),
    'unknown option': ({'options': {'backbone': 'test_resnet', 'exec': 'import os'}}, UnsafeWeightsError,
                       "option 'exec'"),
    'option naming a file': ({'options': {'backbone': 'test_resnet', 'backbone_weights': '/etc/passwd'}},
                             UnsafeWeightsError, 'no paths'),
    'option pointing elsewhere': ({'options': {'base_model_path': 'x.pth'}}, UnsafeWeightsError, 'another file'),
    'not our format': ({'format': 'transformers'}, ModelFolderError, 'not a pyiqa-uniqa model config'),
    'a field of the wrong type': ({'arch': ['ATTIQA']}, ModelFolderError, 'arch must be str'),
}


@pytest.mark.parametrize('case', sorted(HOSTILE_CONFIGS))
def test_a_hostile_config_is_refused(case, folder_copy):
    import pyiqa
    changes, error, message = HOSTILE_CONFIGS[case]
    _edit_config(folder_copy, **changes)
    with pytest.raises(error, match=message):
        pyiqa.create_metric('attiqa', device='cpu', pretrained_model_path=str(folder_copy))


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ['PAYLOAD_MARKER']),))


def test_a_pickle_in_place_of_the_safetensors_is_refused_unread(folder_copy, tmp_path, monkeypatch):
    import pyiqa
    monkeypatch.setenv('PAYLOAD_MARKER', str(tmp_path / 'ran'))
    torch.save({'params': {'quality_head.0.weight': torch.zeros(1)}, 'x': _Payload()}, folder_copy / 'model.safetensors')
    with pytest.raises(UnsafeWeightsError, match='not a safetensors file. It looks like a pickle'):
        pyiqa.create_metric('attiqa', device='cpu', pretrained_model_path=str(folder_copy))
    (folder_copy / 'model.safetensors').rename(folder_copy / 'model.pth')
    with pytest.raises(ModelFolderError, match=r'no model.safetensors \(model.pth is not read'):
        pyiqa.create_metric('attiqa', device='cpu', pretrained_model_path=str(folder_copy))
    assert not (tmp_path / 'ran').exists()


def test_a_hub_id_missing_offline_names_the_id_and_the_cache_within_two_seconds(tmp_path, monkeypatch):
    import pyiqa
    from huggingface_hub import constants
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path / 'hub'))
    for offline in ({'HF_HUB_OFFLINE': '1'}, {'HF_HUB_OFFLINE': '', 'HF_ENDPOINT': 'http://127.0.0.1:9'}):
        for name, value in offline.items():
            monkeypatch.setenv(name, value)
        start = time.monotonic()
        with pytest.raises(WeightsNotFoundError) as error:
            pyiqa.create_metric('uniqa-koniq', device='cpu', pretrained_model_path='hf-hub:someone/not-here')
        assert time.monotonic() - start < 2.5
        assert str(error.value).startswith('hf-hub:someone/not-here is not in the Hugging Face cache '
                                           f'({tmp_path / "hub" / "models--someone--not-here"})')


def test_push_offline_is_one_clear_line(folder_copy, capsys):
    assert main(['push', str(folder_copy), 'someone/my-model']) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f'pyiqa-uniqa push: error: cannot push {folder_copy} to someone/my-model: the Hub cannot be '
                   'reached (HF_HUB_OFFLINE is set). Push again where it can.')


@pytest.mark.parametrize('metric, out_exists, message', [
    ('attiqa', False, 'trains a UniQA network, but --metric attiqa is an ATTIQA model'),
    ('psnr', False, "--metric 'psnr' is not a metric of pyiqa-uniqa that loads a trained model"),
    ('uniqa-koniq', True, 'already exists and is not an empty folder'),
])
def test_export_checks_the_request_before_writing_anything(metric, out_exists, message, trained, tmp_path, capsys):
    out = tmp_path / 'model'
    if out_exists:
        out.mkdir()
        (out / 'notes.txt').write_text('mine')
    status = main(['export-model', str(trained['uniqa-koniq']), '--metric', metric, '--out', str(out)])
    assert status == 2 and message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == (['model'] if out_exists else [])


def test_a_depictqa_checkpoint_with_its_recipe_exports_and_loads_from_the_folder(tmp_path, images):
    from pyiqa_uniqa.depictqa.arch import DepictQA
    from pyiqa_uniqa.weights import trainable_state_dict
    network = DepictQA(model_config='tiny')
    trained = {k: v + 0.05 * torch.randn_like(v) for k, v in trainable_state_dict(network).items()}
    torch.save({'params': trained}, tmp_path / 'net.pth')
    (tmp_path / 'dq.yml').write_text(yaml.safe_dump({'name': 'dq_tiny', 'network': {'type': 'DepictQA',
                                                                                    'model_config': 'tiny'}}))
    assert main(['export-model', str(tmp_path / 'net.pth'), '--metric', 'depictqa', '--recipe',
                 str(tmp_path / 'dq.yml'), '--out', str(tmp_path / 'model')]) == 0
    expected = scores('depictqa', images[:1], model_config='tiny', pretrained_model_path=str(tmp_path / 'net.pth'))
    assert torch.allclose(scores('depictqa', images[:1], pretrained_model_path=str(tmp_path / 'model')), expected,
                          atol=1e-6, rtol=0)
    assert not torch.allclose(scores('depictqa', images[:1], model_config='tiny'), expected)  # the delta matters


def test_a_backbone_file_of_the_run_is_not_written_into_the_config_but_named_in_the_card(
        tmp_path, images, tiny_clip_checkpoint):
    from pyiqa_uniqa.clip_agiqa.arch import CLIPAGIQA
    network_options = {'model_name': 'tiny-clip-quickgelu', 'backbone_weights': str(tiny_clip_checkpoint),
                       'head_hidden': 16, 'n_ctx': 4}
    network = CLIPAGIQA(**network_options)
    trained = {k: v + 0.05 * torch.randn_like(v) for k, v in network.state_dict().items()}
    torch.save({'params': trained}, tmp_path / 'net.pth')
    (tmp_path / 'run.yml').write_text(yaml.safe_dump({'name': 'agiqa', 'network': {'type': 'CLIPAGIQA',
                                                                                   **network_options}}))
    assert main(['export-model', str(tmp_path / 'net.pth'), '--metric', 'clip-agiqa-agiqa3k', '--recipe',
                 str(tmp_path / 'run.yml'), '--out', str(tmp_path / 'model')]) == 0
    config = json.loads((tmp_path / 'model' / 'config.json').read_text())
    assert 'backbone_weights' not in config['options'] and config['options']['n_ctx'] == 4
    assert f'backbone file `{tiny_clip_checkpoint.name}`' in (tmp_path / 'model' / 'README.md').read_text()
    expected = scores('clip-agiqa-agiqa3k', images, pretrained_model_path=str(tmp_path / 'net.pth'), **network_options)
    from_folder = scores('clip-agiqa-agiqa3k', images, pretrained_model_path=str(tmp_path / 'model'),
                         backbone_weights=str(tiny_clip_checkpoint))  # where the backbone is on this machine
    assert torch.allclose(from_folder, expected, atol=1e-6, rtol=0)


def test_heads_trained_on_a_frozen_backbone_export_with_that_backbone(tmp_path, images):
    from pyiqa_uniqa.attiqa.arch import ATTIQA
    geometry = {'backbone': 'test_resnet', 'head_hidden': 16}
    torch.save({'params': ATTIQA(backbone_weights='random', **geometry).state_dict()}, tmp_path / 'pretrain.pth')
    heads = ATTIQA(base_model_path=str(tmp_path / 'pretrain.pth'), freeze_backbone=True, **geometry)
    torch.save({'params': {k: v + 0.1 for k, v in heads.state_dict().items()}}, tmp_path / 'heads.pth')
    network = {'type': 'ATTIQA', 'freeze_backbone': True, 'base_model_path': str(tmp_path / 'pretrain.pth'), **geometry}
    (tmp_path / 'run.yml').write_text(yaml.safe_dump({'name': 'probe', 'network': network}))
    assert main(['export-model', str(tmp_path / 'heads.pth'), '--metric', 'attiqa-spaq', '--recipe',
                 str(tmp_path / 'run.yml'), '--out', str(tmp_path / 'model')]) == 0
    assert 'base_model_path' not in json.loads((tmp_path / 'model' / 'config.json').read_text())['options']
    expected = scores('attiqa-spaq', images, pretrained_model_path=str(tmp_path / 'heads.pth'),
                      base_model_path=str(tmp_path / 'pretrain.pth'), freeze_backbone=True, **geometry)
    from_folder = scores('attiqa-spaq', images, pretrained_model_path=str(tmp_path / 'model'))
    assert torch.allclose(from_folder, expected, atol=1e-6, rtol=0)


def test_the_card_takes_the_evaluation_of_an_eval_results_table(trained, tmp_path):
    (tmp_path / 'results.csv').write_text(
        'metric,dataset,status,images,splits,srcc,srcc_std,plcc,plcc_std\n'
        'uniqa-koniq:pretrained_model_path=m,koniq10k,ok,2015,1,0.912345,,0.93,\n'
        'uniqa-koniq:pretrained_model_path=m,spaq,missing dataset,,,,,,\n')
    assert main(['export-model', str(trained['uniqa-koniq']), '--metric', 'uniqa-koniq', '--eval-result',
                 str(tmp_path / 'results.csv'), '--license', 'cc-by-nc-4.0', '--out', str(tmp_path / 'model')]) == 0
    card = (tmp_path / 'model' / 'README.md').read_text()
    assert '| koniq10k (2015 images) | 0.9123 | 0.9300 | `pyiqa-uniqa eval` (results.csv' in card
    assert 'spaq' not in card.split('## Evaluation')[1].split('## Licence')[0]  # not computed: not reported
    assert yaml.safe_load(card.split('---\n')[1])['license'] == 'cc-by-nc-4.0'
