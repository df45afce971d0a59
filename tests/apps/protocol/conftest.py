"""A small protocol on the bundled photo datasets: the shipped demo's recipe and datasets, shortest training."""
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DEMO_DATASETS = REPO / 'options' / 'protocol' / 'demo_datasets.yml'
# one epoch, validated at 4 and 8 iterations and at the end, 4 test crops: every part of the
# protocol runs, in seconds per unit
SHORT_TRAINING = ['train:total_epoch=1', 'train:scheduler:T_max=1', 'val:val_freq=4', 'logger:print_freq=4',
                  'network:num_crops=4']


@pytest.fixture(scope='session')
def demo_datasets(tmp_path_factory):
    """The demo's dataset options, built once per session in a shared folder."""
    root = tmp_path_factory.getbasetemp() / 'protocol_photos'
    datasets = yaml.safe_load(DEMO_DATASETS.read_text())
    for name, options in datasets.items():
        options['dataroot_target'] = str(root / name)
    path = root / 'datasets.yml'
    root.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(datasets))
    return path


@pytest.fixture()
def write_protocol(tmp_path, demo_datasets):
    """``write_protocol(**changes)`` -> the path of a protocol file in tmp_path (the working directory)."""
    def write(**changes):
        protocol = {'name': 'test-protocol', 'recipes': {'uniqa-tiny': str(REPO / 'options' / 'uniqa' / 'demo.yml')},
                    'datasets': ['photos-a', 'photos-b'], 'data_opt': str(demo_datasets),
                    'cross': {'photos-a': ['photos-b'], 'photos-b': ['photos-a']},
                    'settings': {'full': []}, 'splits': 2, 'val_fraction': 0.2, 'overrides': SHORT_TRAINING,
                    **changes}
        path = tmp_path / 'protocol.yml'
        path.write_text(yaml.safe_dump(protocol, sort_keys=False))
        return path
    return write
