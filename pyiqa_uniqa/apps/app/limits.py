"""What the server accepts: request limits, image checks and the folders it may read.

Every check runs before a request reaches a model, and every refusal is a ``RequestError`` (a
``UserError``) whose message names the input and says what to do; the page shows it and the API
answers it with a status code (``status``), and the server goes on serving.
"""
import os
from dataclasses import dataclass
from pathlib import Path

from pyiqa_uniqa.errors import UserError

MEBIBYTE = 2 ** 20
# A served image may be far smaller than the library's limit (2**28 pixels): every request holds
# its decoded image in memory, and the page is for photographs, not gigapixel scans.
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_UPLOAD_MB = 50


class RequestError(UserError, ValueError):
    """A request the server refuses; ``status`` is the HTTP status the API answers with."""
    status = 400


class TooLargeError(RequestError):
    status = 413


class NotServedError(RequestError):
    status = 403


class BusyError(RequestError):
    """The request queue is full: the client should retry later (HTTP 503 with Retry-After)."""
    status = 503


class TimedOutError(RequestError):
    status = 504


@dataclass(frozen=True)
class RequestLimits:
    max_bytes: int = DEFAULT_MAX_UPLOAD_MB * MEBIBYTE
    max_pixels: int = DEFAULT_MAX_PIXELS

    def check_image(self, path, name):
        """Refuse a file that is too big, not an image, or of too many pixels, from its size and header
        (the decoding itself, strict, happens in the reader). ``name``: what the user called it."""
        from PIL import Image, UnidentifiedImageError

        from pyiqa_uniqa.data.images import strict_decoding

        size = os.path.getsize(path)
        if size > self.max_bytes:
            raise TooLargeError(f'{name}: {size / MEBIBYTE:.1f} MiB is more than the {self.max_bytes / MEBIBYTE:g} MiB '
                                'this server accepts; send a smaller file (the server sets --max-upload-mb).')
        try:
            with strict_decoding(), Image.open(path) as image:  # reads the header only
                width, height = image.size
        except UnidentifiedImageError:
            raise RequestError(f'{name}: not an image (PNG, JPEG, WebP, TIFF, BMP, ... expected).') from None
        except OSError as err:
            raise RequestError(f'{name}: cannot be read as an image ({err}).') from None
        if width * height > self.max_pixels:
            raise TooLargeError(f'{name}: {width}x{height} is {width * height:,} pixels, more than the '
                                f'{self.max_pixels:,} this server accepts; downscale it first (the server sets '
                                '--max-pixels).')
        if width < 1 or height < 1:
            raise RequestError(f'{name}: the image is empty ({width}x{height} pixels).')


class ServedFolders:
    """The folders the server was started with: the only places a request may name files in."""

    def __init__(self, folders=()):
        self.folders = [Path(folder).resolve() for folder in folders]

    def resolve(self, text, what='path'):
        """The real path of ``text`` (absolute, or relative to a served folder) if it lies inside a
        served folder, symlinks followed; otherwise a ``NotServedError``."""
        if not self.folders:
            raise NotServedError(f'{what} {text!r}: this server serves no folders (start it with --folders DIR); '
                                 'upload the file instead.')
        text = str(text).strip()
        candidates = [Path(text)] if Path(text).is_absolute() else [folder / text for folder in self.folders]
        for candidate in candidates:
            real = candidate.resolve()
            if any(real.is_relative_to(folder) for folder in self.folders):
                if not real.exists():
                    raise RequestError(f'{what} {text!r}: no such file or folder in the served folders.')
                return real
        raise NotServedError(f'{what} {text!r} is outside the folders this server serves '
                             f'({", ".join(map(str, self.folders))}).')

    def images(self, text, limit):
        """The image files a served path names: the file itself, or a folder's images (recursive,
        ``score``'s rule), at most ``limit`` of them."""
        from pyiqa_uniqa.apps.scoring.inputs import find_images

        real = self.resolve(text)
        rows = find_images(str(real)).rows
        if not rows:
            raise RequestError(f'{text!r}: no images in it.')
        if len(rows) > limit:
            raise TooLargeError(f'{text!r}: {len(rows)} images, more than the {limit} one request may score; '
                                'name a smaller folder, or use `pyiqa-uniqa score` for whole collections.')
        return [row.path for row in rows]
