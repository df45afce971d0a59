"""Prompt selection: the probe's known order, sign-aware choice, the printed table, the prompts file.

CLIP here is tiny and random, so its SRCCs are meaningless; what is checked is the selection
logic: every candidate is scored and printed, the written choice is the maximum, and a pair that
runs against the attribute cannot win.
"""
import numpy as np
import pytest
import yaml

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.prompt_bank import PROMPT_BANK
from pyiqa_uniqa.attiqa.prompts_file import load_prompt_pairs
from pyiqa_uniqa.apps.select_prompts import pick_best, sweep_srcc


def test_synthetic_probe_orders_images_by_real_severity():
    from pyiqa_uniqa.attiqa.probe import synthetic_probe
    probe = synthetic_probe(size=64, photos=['coffee'])
    assert set(probe.sweeps) == set(ATTRIBUTES)
    brightness = probe.images.mean(dim=(1, 2, 3)).numpy()
    colour_spread = probe.images.std(dim=1).mean(dim=(1, 2)).numpy()
    # the image statistic that tracks each attribute follows the probe's expected order
    assert min(sweep_srcc(brightness, [s]) for s in probe.sweeps['brightness']) > 0.9
    assert min(sweep_srcc(colour_spread, [s]) for s in probe.sweeps['colorfulness']) > 0.9
    assert len(probe.sweeps['sharpness']) == 3  # blur, motion blur, sharpen


def test_choice_is_the_highest_signed_srcc():
    rows = {'noisiness': [('a', 'b', -0.9), ('c', 'd', 0.3), ('e', 'f', 0.3)]}
    assert pick_best(rows) == {'noisiness': ('c', 'd', 0.3)}  # not the swapped pair with |SRCC| 0.9
    assert sweep_srcc(np.ones(4), [(np.arange(4), np.arange(4.0))]) == 0.0  # constant scores count as 0


def test_command_scores_every_candidate_and_writes_the_best(tmp_path, capsys):
    from pyiqa_uniqa.apps.cli import main
    out = tmp_path / 'prompts.yml'
    assert main(['select-prompts', '--model-name', 'tiny-clip-quickgelu', '--backbone-weights', 'random',
                 '--photos', 'astronaut', '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    document = yaml.safe_load(out.read_text())
    for name in ATTRIBUTES:
        candidates = document['candidates'][name]
        assert [(c['positive'], c['negative']) for c in candidates] == PROMPT_BANK[name]
        assert all(np.isfinite(c['srcc']) for c in candidates)
        best = max(c['srcc'] for c in candidates)
        assert document['prompts'][name]['srcc'] == best
        for pos, neg in PROMPT_BANK[name]:
            assert f'{pos!r} / {neg!r}' in printed
    assert printed.count('*') == len(ATTRIBUTES) + 1  # one mark per attribute, plus the legend
    pairs = load_prompt_pairs(out)
    assert pairs['sharpness'] == (document['prompts']['sharpness']['positive'],
                                  document['prompts']['sharpness']['negative'])


def test_prompts_file_errors_are_clear(tmp_path):
    bad = tmp_path / 'p.yml'
    bad.write_text('prompts:\n  sharpness: {positive: a, negative: b}\n')
    with pytest.raises(ValueError, match='brightness'):
        load_prompt_pairs(bad)
    bad.write_text('prompts: [unclosed\n')
    with pytest.raises(ValueError, match='YAML'):
        load_prompt_pairs(bad)
    with pytest.raises(FileNotFoundError, match='select-prompts'):
        load_prompt_pairs(tmp_path / 'none.yml')
    marker = tmp_path / 'pwned'
    bad.write_text(f'prompts: !!python/object/apply:os.mkdir [{str(marker)!r}]\n')
    with pytest.raises(ValueError, match='p.yml'):
        load_prompt_pairs(bad)
    assert not marker.exists()


@pytest.mark.parametrize('args, message', [
    (['--probe', 'missing.csv'], '--probe missing.csv: no such folder or CSV file'),
    (['--probe', 'probe.csv'], '--probe .*probe.csv: no attribute columns'),
    (['--photos', 'astronaut', 'nebula'], '--photos nebula: unknown photo'),
])
def test_wrong_probes_are_named_before_clip_loads(args, message, tmp_path, monkeypatch, capsys):
    import re

    from pyiqa_uniqa.apps import select_prompts
    from pyiqa_uniqa.apps.cli import main
    from pyiqa_uniqa.errors import UserError
    (tmp_path / 'a.png').write_bytes(b'')
    (tmp_path / 'probe.csv').write_text('image,quality\na.png,1\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(select_prompts, 'build_clip_from_args',
                        lambda *a: pytest.fail('CLIP loaded before the probe was checked'))
    assert main(['select-prompts', *args, '--out', 'p.yml']) == 2
    assert re.search(message, capsys.readouterr().err)
    with pytest.raises(UserError, match=message):
        main(['--debug', 'select-prompts', *args, '--out', 'p.yml'])
    assert not (tmp_path / 'p.yml').exists()


def test_every_photo_the_probe_can_load_passes_the_early_check(tmp_path, monkeypatch):
    """--photos accepts what load_photos loads (the photos of other installed packages too)."""
    from pyiqa_uniqa.apps import select_prompts
    from pyiqa_uniqa.apps.cli import main

    class ClipReached(Exception):
        pass

    def reached(*args):
        raise ClipReached

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(select_prompts, 'build_clip_from_args', reached)
    with pytest.raises(ClipReached):
        main(['--debug', 'select-prompts', '--photos', 'astronaut', 'china', '--out', 'p.yml'])
