"""The CLI's one boundary: a user mistake is one line and status 2, Ctrl-C is status 130 with a word about
resuming, a bug is one line naming --debug and status 1; --debug shows the traceback; --version."""
import subprocess
import sys

import pytest

from pyiqa_uniqa.apps import cli
from pyiqa_uniqa.errors import Interrupted, UserError


class _Command:
    """A stand-in command module whose run raises what the test asks for."""
    raises = None

    @staticmethod
    def add_arguments(parser):
        parser.add_argument('--debug', action='store_true', help="a command's own --debug (train has one)")

    @classmethod
    def run(cls, args):
        raise cls.raises


@pytest.fixture()
def fake_command(monkeypatch):
    monkeypatch.setitem(sys.modules, 'fake_command_module', _Command)
    monkeypatch.setitem(cli.COMMANDS, 'fake', ('fake_command_module', 'a test command'))
    return _Command


def test_a_user_error_is_one_line_and_status_2(fake_command, capsys):
    fake_command.raises = UserError('images.csv: no such file. Pass --images <csv>.')
    assert cli.main(['fake']) == 2
    captured = capsys.readouterr()
    assert captured.err == 'pyiqa-uniqa fake: error: images.csv: no such file. Pass --images <csv>.\n'
    assert 'Traceback' not in captured.err and captured.out == ''


def test_debug_shows_the_traceback_and_a_commands_own_debug_stays_its_own(fake_command):
    fake_command.raises = UserError('bad input')
    with pytest.raises(UserError, match='bad input'):
        cli.main(['--debug', 'fake'])
    assert cli.main(['fake', '--debug']) == 2  # the command's --debug is not the global one


def test_a_bug_is_one_line_naming_debug_and_status_1(fake_command, capsys):
    fake_command.raises = ZeroDivisionError('a bug\nsecond line')
    assert cli.main(['fake']) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'this is a bug' in err and 'ZeroDivisionError: a bug' in err
    assert '--debug fake' in err and 'Traceback' not in err
    with pytest.raises(ZeroDivisionError):
        cli.main(['--debug', 'fake'])


def test_an_os_error_is_one_line_and_status_1(fake_command, capsys):
    fake_command.raises = OSError(28, 'No space left on device', 'out.csv')
    assert cli.main(['fake']) == 1
    assert capsys.readouterr().err == "pyiqa-uniqa fake: error: [Errno 28] No space left on device: 'out.csv'\n"


@pytest.mark.parametrize('raised, line', [
    (KeyboardInterrupt(), 'pyiqa-uniqa fake: interrupted\n'),
    (Interrupted(7, 'out.csv.journal'),
     'pyiqa-uniqa fake: interrupted: 7 rows saved to the journal (out.csv.journal); run the same command to resume\n'),
])
def test_ctrl_c_is_status_130_and_says_how_to_resume(fake_command, capsys, raised, line):
    fake_command.raises = raised
    assert cli.main(['fake']) == 130
    assert capsys.readouterr().err.lstrip('\n') == line


def test_version_names_the_package_and_pyiqa(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['--version'])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('pyiqa-uniqa 0.') and '(pyiqa 0.' in out


def test_help_is_instant_and_imports_no_command():
    code = ('import sys\nfrom pyiqa_uniqa.apps.cli import main\n'
            'try:\n    main(["--help"])\nexcept SystemExit:\n    pass\n'
            'heavy = [m for m in ("torch", "pyiqa", "open_clip", "pyiqa_uniqa.apps.train") if m in sys.modules]\n'
            'print("HEAVY", heavy)')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert 'HEAVY []' in result.stdout, result.stdout + result.stderr
    assert '--debug' in result.stdout


def test_install_hook_into_a_missing_site_dir(tmp_path, capsys):
    missing = tmp_path / 'no' / 'such' / 'site-packages'
    assert cli.main(['install-hook', '--site-dir', str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('pyiqa-uniqa install-hook: error: ') and str(missing) in err
    assert not missing.exists() and not (tmp_path / 'no').exists()
    (tmp_path / 'file').write_text('')
    assert cli.main(['install-hook', '--site-dir', str(tmp_path / 'file')]) == 2
    assert 'not a folder' in capsys.readouterr().err
    assert cli.main(['install-hook', '--site-dir', str(tmp_path)]) == 0
    assert (tmp_path / 'pyiqa_uniqa.pth').is_file() and (tmp_path / 'pyiqa_uniqa.start').is_file()
