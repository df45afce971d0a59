"""atomic_write leaves a whole file or none; inside_folder keeps input-named outputs in their folder."""
import os
import stat

import pytest

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.files import UnsafePathError, atomic_write, inside_folder


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / 'table.csv'
    target.write_text('old\n')
    with atomic_write(target) as f:
        f.write('new\n')
        assert target.read_text() == 'old\n'  # nothing visible until the write is complete
    assert target.read_text() == 'new\n'
    with atomic_write(tmp_path / 'blob.bin', 'wb') as f:
        f.write(b'\x00\x01')
    assert (tmp_path / 'blob.bin').read_bytes() == b'\x00\x01'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['blob.bin', 'table.csv']


def test_an_error_leaves_the_target_untouched(tmp_path):
    target = tmp_path / 'model.pth'
    target.write_bytes(b'complete')
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic_write(target, 'wb') as f:
            f.write(b'half')
            raise RuntimeError('disk full')
    assert target.read_bytes() == b'complete'
    assert [p.name for p in tmp_path.iterdir()] == ['model.pth']
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / 'new.txt') as f:
            f.write('x')
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ['model.pth']


def test_permissions_are_those_of_a_plain_open(tmp_path):
    with open(tmp_path / 'plain.txt', 'w') as f:
        f.write('x')
    with atomic_write(tmp_path / 'atomic.txt') as f:
        f.write('x')
    mode = stat.S_IMODE(os.stat(tmp_path / 'atomic.txt').st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / 'plain.txt').st_mode)


def test_text_options_and_modes(tmp_path):
    with atomic_write(tmp_path / 'u.txt', encoding='utf-8', newline='') as f:
        f.write('é\r\n')
    assert (tmp_path / 'u.txt').read_bytes() == 'é\r\n'.encode()
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with atomic_write(tmp_path / 'a.txt', 'a'):
            pass


def test_inside_folder_accepts_relative_names(tmp_path):
    assert inside_folder(tmp_path, 'a/b.png') == tmp_path / 'a' / 'b.png'
    assert inside_folder(tmp_path, 'name with spaces.jpg') == tmp_path / 'name with spaces.jpg'
    (tmp_path / 'inner').mkdir()
    (tmp_path / 'link').symlink_to(tmp_path / 'inner')  # a link that stays inside is fine
    assert inside_folder(tmp_path, 'link/x.png') == tmp_path / 'link' / 'x.png'


@pytest.mark.parametrize('name, reason', [
    ('../escape.png', "contains '..'"), ('a/../../escape.png', "contains '..'"),
    ('/etc/passwd', 'absolute path'), ('~/x.png', 'absolute path'), ('', 'names no file'), ('.', 'names no file'),
    ('out/x.png', 'symlink'),
])
def test_inside_folder_refuses_escapes(tmp_path, name, reason):
    root = tmp_path / 'root'
    root.mkdir()
    (root / 'out').symlink_to(tmp_path)  # points outside root
    with pytest.raises(UnsafePathError, match=reason) as info:
        inside_folder(root, name, source='captions.csv, row 3')
    message = str(info.value)
    assert message.startswith('captions.csv, row 3: ') and repr(name) in message
    assert f'outside the output folder {root}' in message
    assert isinstance(info.value, UserError)
    with pytest.raises(UnsafePathError, match=f'outside the image folder {root}'):
        inside_folder(root, name, what='image folder')


@pytest.mark.parametrize('name, reason', [
    ('a\x00b.png', 'contains a NUL byte'), ('loop1/x.png', 'cannot be followed'),
])
def test_inside_folder_turns_names_no_file_can_have_into_the_family(tmp_path, name, reason):
    (tmp_path / 'loop1').symlink_to('loop2')
    (tmp_path / 'loop2').symlink_to('loop1')
    with pytest.raises(UnsafePathError, match=reason) as info:
        inside_folder(tmp_path, name, source='list.txt, line 2')
    assert str(info.value).startswith('list.txt, line 2: ')
