"""The plugin is found by pyiqa with no import of ours, and stays out of the way."""
import json
import re
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

from pyiqa_uniqa.configs import METRIC_CONFIGS
from pyiqa_uniqa.hook import merge_metric_configs
from pyiqa_uniqa.startup_files import STARTUP_FILES

FAMILY_NAMES = {'uniqa', 'attiqa', 'clip-agiqa', 'depictqa'}


def python(code):
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_import_is_torch_free():
    out = python('import sys, pyiqa_uniqa; print(sorted(m for m in ("torch", "pyiqa", "open_clip") if m in sys.modules))')
    assert out.stdout.strip() == '[]'


def test_startup_files_are_installed():
    site = Path(sysconfig.get_paths()['purelib'])
    for name, text in STARTUP_FILES.items():
        assert (site / name).read_text() == text, f'{name} missing: run pyiqa-uniqa install-hook'


def test_pyiqa_lists_and_builds_our_metrics_without_importing_us():
    code = ('import sys, json, pyiqa; '
            'names = pyiqa.list_models(); '
            'from pyiqa.default_model_configs import DEFAULT_CONFIGS as C; '
            'print(json.dumps({"names": names, "cfg": C["uniqa"]}))')
    # -S would skip site (and our .pth); the point is that a plain interpreter sees us
    out = json.loads(python(code).stdout.strip().splitlines()[-1])
    assert FAMILY_NAMES <= set(out['names'])
    assert out['cfg'] == METRIC_CONFIGS['uniqa']


def test_pyiqa_cli_lists_our_metrics():
    result = subprocess.run([sys.executable, '-m', 'pyiqa.pyiqa_cmd', '-ls'], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"'([^']+)'", result.stdout))
    assert FAMILY_NAMES <= listed


def test_builtin_names_win():
    builtin = {'metric_opts': {'type': 'Other'}, 'metric_mode': 'NR'}
    fake = types.SimpleNamespace(DEFAULT_CONFIGS={'uniqa': builtin})
    merge_metric_configs(fake)
    assert fake.DEFAULT_CONFIGS['uniqa'] is builtin
    assert set(METRIC_CONFIGS) <= set(fake.DEFAULT_CONFIGS)


def test_silent_without_pyiqa():
    # pyiqa blocked from importing: our import must neither fail nor print
    out = python('import sys; sys.modules["pyiqa"] = None; import pyiqa_uniqa; print("ok")')
    assert out.stdout.strip() == 'ok' and out.stderr == ''


def test_entry_points_only_register_lazily():
    # psnr's first registry lookup loads every plugin's entry points: ours must import no model code
    # (each part's package __init__ holds only its torch-free declarations, so those may load)
    code = ('import sys, pyiqa; m = pyiqa.create_metric("psnr", device="cpu"); '
            'print(sorted(k for k in sys.modules if k.startswith("pyiqa_uniqa.") and '
            'k.split(".")[1] in ("uniqa", "uniqa_pretrain", "attiqa", "clip_agiqa", "depictqa", "backbones") '
            'and k.count(".") > 1))')
    assert python(code).stdout.strip().splitlines()[-1] == '[]'


def test_part_declarations_are_torch_free():
    from pyiqa_uniqa.parts import PARTS
    imports = '; '.join(f'import pyiqa_uniqa.{part}' for part in PARTS)
    out = python(f'import sys; {imports}; import pyiqa_uniqa.configs, pyiqa_uniqa.plugin, pyiqa_uniqa.apps.cli; '
                 'print(sorted(m for m in ("torch", "pyiqa", "open_clip", "numpy") if m in sys.modules))')
    assert out.stdout.strip() == '[]'


def test_config_names_avoid_pyiqa_special_cases():
    # InferenceModel routes any name containing 'fid' to the FID call path
    for name, cfg in METRIC_CONFIGS.items():
        assert 'fid' not in name
        assert cfg['metric_mode'] in ('NR', 'FR') and 'type' in cfg['metric_opts']
