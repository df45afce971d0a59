"""-m name:key=value,... and --metric-opt parsing."""
import pytest

from pyiqa_uniqa.apps.metrics.metric_specs import (
    MetricSpecError,
    check_metric_names,
    parse_metric_specs,
)


def test_inline_options_are_yaml_scalars():
    spec, = parse_metric_specs(['uniqa:model_name=tiny-clip-quickgelu,num_crops=3,use_adapter=false,crop_size=2.5'])
    assert (spec.label, spec.name) == ('uniqa', 'uniqa')
    assert spec.options == {'model_name': 'tiny-clip-quickgelu', 'num_crops': 3, 'use_adapter': False, 'crop_size': 2.5}


def test_option_file_defines_variants_and_inline_options_win(tmp_path):
    path = tmp_path / 'metrics.yml'
    path.write_text('tiny: {metric: uniqa, model_name: tiny-clip-quickgelu, num_crops: 2}\npsnr: {test_y_channel: true}\n')
    tiny, psnr = parse_metric_specs(['tiny:num_crops=5', 'psnr'], path)
    assert (tiny.label, tiny.name, tiny.options) == ('tiny', 'uniqa', {'model_name': 'tiny-clip-quickgelu', 'num_crops': 5})
    assert psnr.options == {'test_y_channel': True}
    assert [s.label for s in parse_metric_specs([], path)] == ['tiny', 'psnr']  # no -m: all of the file


def test_the_same_metric_twice_gets_distinct_labels():
    a, b = parse_metric_specs(['uniqa:num_crops=1', 'uniqa:num_crops=2'])
    assert a.label != b.label and a.name == b.name == 'uniqa'


@pytest.mark.parametrize('bad', ['uniqa:model_name', ':a=1', 'uniqa:=3'])
def test_malformed_specs_are_refused(bad):
    with pytest.raises(MetricSpecError):
        parse_metric_specs([bad])


def test_unknown_metric_names_suggest_close_ones():
    with pytest.raises(MetricSpecError, match='Did you mean.*psnr'):
        check_metric_names(parse_metric_specs(['psnrr']))
    check_metric_names(parse_metric_specs(['psnr', 'uniqa', 'uniqa-koniq']))  # plugin names are known
