"""Image files a user may hand us, awkward or broken, for the bad-input tests of every entry point.

``write_bad_images(folder)`` writes each kind once and returns ``{kind: path}``; every file is
small, including the "bomb", whose header declares 40000 x 40000 pixels and holds none.
"""
import struct
import zlib

import numpy as np
from PIL import Image


def png_header_only(width, height):
    """A PNG that declares ``width`` x ``height`` RGB pixels and holds none: what a decompression
    bomb looks like before decoding."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b'')


def write_bad_images(folder, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rgb = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    paths = {}

    def save(kind, image, suffix='.png'):
        paths[kind] = folder / f'{kind}{suffix}'
        image.save(paths[kind])

    save('rgb', Image.fromarray(rgb))
    save('grayscale', Image.fromarray(rgb[..., 0]))
    save('rgba', Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (64, 80), dtype=np.uint8)])))
    save('sixteen_bit', Image.fromarray((rng.random((64, 80)) * 65535).astype(np.uint16)))
    save('cmyk', Image.fromarray(rgb).convert('CMYK'), '.jpg')
    save('one_pixel', Image.fromarray(rgb[:1, :1]))
    save('thin', Image.fromarray(np.zeros((20, 3000, 3), np.uint8)))
    whole = paths['rgb'].read_bytes()
    for kind, data, suffix in (('truncated', whole[: len(whole) // 2], '.png'), ('empty', b'', '.png'),
                               ('not_an_image', b'hello, world\n', '.png'),
                               ('bomb', png_header_only(40000, 40000), '.png')):
        paths[kind] = folder / f'{kind}{suffix}'
        paths[kind].write_bytes(data)
    return paths
