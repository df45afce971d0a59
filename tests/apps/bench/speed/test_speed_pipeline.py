"""`bench --pipeline`: score and pyiqa's CLI timed on the same folder, side by side."""
import csv
import math

from pyiqa_uniqa.apps.cli import main


def test_pipeline_bench_times_score_and_pyiqa_cli_on_the_same_images(tmp_path, tiny_clip_checkpoint, capsys):
    uniqa = f'uniqa:model_name=tiny-clip-quickgelu,num_crops=1,backbone_weights={tiny_clip_checkpoint}'
    argv = ['bench', '--pipeline', '-m', 'piqe', uniqa, '--max-images', '3', '--repeats', '1', '--threads', '1',
            '--num-workers', '0', '--device', 'cpu', '--out', str(tmp_path / 'out'), '--offline']
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert '| piqe | idle | 3 |' in printed and 'pyiqa CLI (img/s)' in printed
    with open(tmp_path / 'out' / 'bench_pipeline.csv', newline='') as f:
        rows = {r['metric']: r for r in csv.DictReader(f)}
    piqe, tiny = rows['piqe'], rows['uniqa']
    for figure in ('pyiqa_cli', 'score', 'score_loop', 'pyiqa_cli_cpu', 'score_cpu', 'score_loop_cpu'):
        assert float(piqe[figure]) > 0, figure
    assert float(piqe['score_loop']) > float(piqe['score'])  # the loop excludes start-up and model load
    # one round: the median is the only run, and the ratio is that round's pair
    assert float(piqe['score_low']) == float(piqe['score']) == float(piqe['score_high'])
    assert math.isclose(float(piqe['speedup']), float(piqe['score']) / float(piqe['pyiqa_cli']))
    assert math.isnan(float(tiny['pyiqa_cli'])) and 'takes no metric options' in tiny['note']
    assert float(tiny['score']) > 0
    assert 'pyiqa-uniqa bench -m piqe' in (tmp_path / 'out' / 'bench_pipeline.md').read_text()


def test_the_encoder_floor_times_frozen_features_on_the_images(tmp_path, monkeypatch):
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    from pyiqa_uniqa.apps.metrics.metric_specs import MetricSpec
    from pyiqa_uniqa.apps.bench.speed.pipeline import PipelineSettings, _floor, write_photo_folder
    from pyiqa_uniqa.parts import nr_metric

    monkeypatch.setitem(DEFAULT_CONFIGS, 'tiny-iqa', nr_metric('TinyIQANet', crop_size=32))
    folder = write_photo_folder(tmp_path / 'photos', 3)
    wall, cpu, note = _floor(MetricSpec('tiny-iqa', 'tiny-iqa'), folder, PipelineSettings(repeats=2))
    assert wall.runs == cpu.runs == 2 and wall.low <= wall.median <= wall.high and cpu.median > 0 and note == ''
    wall, cpu, note = _floor(MetricSpec('piqe', 'piqe'), folder, PipelineSettings(repeats=1))
    assert math.isnan(wall.median) and 'no frozen tower' in note
