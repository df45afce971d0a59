"""Generated image files, whole and damaged, through the one reader and through pyiqa's piqe.

Each case saves a small generated picture as PNG, JPEG (baseline or progressive), WebP, TIFF
(8-bit, 16-bit, float), GIF or BMP, then damages it: cut short (with a new end marker for JPEG),
bytes flipped, or its header's width and height edited (PNG's checksum fixed, so the decoder
meets the lie). The outcome must be an RGB image (a finite score for piqe) or a ``UserError``
naming the file (property_bounds.py).
"""
import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from property_bounds import cases, check_case

from pyiqa_uniqa.data.images import read_image

FORMATS = ('png', 'jpeg', 'jpeg-progressive', 'webp', 'tiff', 'tiff-16', 'tiff-float', 'gif', 'bmp')
SIDES = (1, 2, 3, 7, 16, 17, 33, 48)


def encode(kind, array):
    """The file bytes of ``array`` (HxWx3 uint8) saved as ``kind``."""
    buffer = io.BytesIO()
    gray = array[..., 0]
    if kind == 'tiff-16':
        Image.fromarray(gray.astype(np.uint16) * 257).save(buffer, 'TIFF')
    elif kind == 'tiff-float':
        Image.fromarray(gray.astype(np.float32) / 255, mode='F').save(buffer, 'TIFF')
    elif kind.startswith('jpeg'):
        Image.fromarray(array).save(buffer, 'JPEG', progressive=kind.endswith('progressive'))
    else:
        Image.fromarray(array).save(buffer, kind.upper())
    return buffer.getvalue()


def _png_chunk_fixed(data, at):
    """PNG ``data`` with the CRC of the chunk whose data starts at ``at`` recomputed."""
    length = struct.unpack('>I', data[at - 8:at - 4])[0]
    crc = zlib.crc32(bytes(data[at - 4:at + length]))
    data[at + length:at + length + 4] = struct.pack('>I', crc)
    return data


def with_size(kind, data, width, height):
    """``data`` whose header claims ``width`` x ``height`` (where this test knows the format's header)."""
    data = bytearray(data)
    if kind == 'png':
        data[16:24] = struct.pack('>II', width, height)
        return bytes(_png_chunk_fixed(data, 16))
    if kind.startswith('jpeg'):
        sof = max(data.find(b'\xff\xc0'), data.find(b'\xff\xc2'))
        data[sof + 5:sof + 9] = struct.pack('>HH', min(height, 65535), min(width, 65535))
    elif kind == 'gif':
        data[6:10] = struct.pack('<HH', min(width, 65535), min(height, 65535))
        descriptor = data.find(b'\x2c', 13)
        if descriptor > 0:
            data[descriptor + 5:descriptor + 9] = struct.pack('<HH', min(width, 65535), min(height, 65535))
    elif kind == 'bmp':
        data[18:26] = struct.pack('<ii', min(width, 2 ** 31 - 1), min(height, 2 ** 31 - 1))
    elif kind.startswith('tiff'):
        entries = struct.unpack('<I', data[4:8])[0]
        for at in range(entries + 2, entries + 2 + 12 * struct.unpack('<H', data[entries:entries + 2])[0], 12):
            tag, kind_of_value = struct.unpack('<HH', data[at:at + 4])
            if tag in (256, 257):
                value = width if tag == 256 else height
                data[at + 8:at + 12] = (struct.pack('<HH', min(value, 65535), 0) if kind_of_value == 3
                                        else struct.pack('<I', min(value, 2 ** 32 - 1)))
    return bytes(data)


@st.composite
def image_files(draw):
    """``(kind, damage, bytes)`` of a generated picture, damaged one way or not at all."""
    kind = draw(st.sampled_from(FORMATS))
    height, width = draw(st.sampled_from(SIDES)), draw(st.sampled_from(SIDES))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    flat = draw(st.booleans())
    array = (np.full((height, width, 3), rng.integers(0, 256), np.uint8) if flat
             else rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    data = encode(kind, array)
    damage = draw(st.sampled_from(('none', 'cut', 'flip', 'size')))
    if damage == 'cut':
        data = data[:draw(st.integers(0, len(data) - 1))]
        if kind.startswith('jpeg') and draw(st.booleans()):
            data += b'\xff\xd9'  # a new end marker: libjpeg would pad the rest with grey, silently
    elif damage == 'flip':
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        data = bytes(data)
    elif damage == 'size':
        side = st.sampled_from((0, 1, 3, 255, 4096, 16384, 65535, 65536, 2 ** 20, 2 ** 31 - 1))
        data = with_size(kind, data, draw(side), draw(side))
    return kind, damage, data


def _through(reader, kind, data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f'image.{kind.split("-")[0]}'
        path.write_bytes(data)
        check_case(reader.__name__, lambda: reader(path), [str(path), path.name], Path(folder))


def read_image_file(path):
    image = read_image(path)
    assert image.mode == 'RGB' and image.width >= 1 and image.height >= 1
    return image


_PIQE = []


def piqe_file(path):
    import torch
    with torch.no_grad():
        return _PIQE[0](str(path))


@settings(max_examples=cases(600))
@given(image_files())
def test_generated_image_files_through_read_image(case):
    _through(read_image_file, case[0], case[2])


@settings(max_examples=cases(300))
@given(image_files())
def test_generated_image_files_through_pyiqa_piqe(case):
    if not _PIQE:  # built outside the timed call
        import pyiqa
        _PIQE.append(pyiqa.create_metric('piqe', device='cpu'))
    _through(piqe_file, case[0], case[2])
