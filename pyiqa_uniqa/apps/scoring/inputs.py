"""Which images ``score`` reads, and their references.

``--images`` is one of:
- a folder: every image file below it (recursive; extensions in ``IMAGE_EXTENSIONS``; hidden files
  and folders skipped; symlinked folders not followed), in sorted order;
- a glob (``'photos/**/*.jpg'``, quoted so the shell leaves it alone): every file it matches;
- a text file: one path per line (blank lines and ``#`` comments skipped);
- a CSV (``.csv``/``.tsv``): a path column (``--path-column``, else the first of ``PATH_COLUMNS``)
  and, for full-reference metrics, optionally a reference column (``--ref-column``, else the first
  of ``REF_COLUMNS``);
- one image file.

Relative names in a text file or CSV are relative to ``--image-root`` (default: the list's folder,
as pyiqa's ``dataroot_target``) and must stay inside it; absolute names are taken as they are.
``--ref FOLDER`` pairs each image with the file of the same relative path below it.

A row is named by ``path`` (the image as the user can open it) and ``ref`` ('' without one); the
pair is the row's key in the output and in the journal. A CSV's other columns (``mos``, a prompt, a
split) travel with its rows into the output table (``ImageList.kept``).
"""
import glob
import os
from dataclasses import dataclass
from pathlib import Path

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.files import inside_folder

IMAGE_EXTENSIONS = ('.bmp', '.gif', '.jpeg', '.jpg', '.png', '.ppm', '.pgm', '.tif', '.tiff', '.webp')
PATH_COLUMNS = ('path', 'image', 'img_path', 'image_path', 'file', 'filename', 'dist_name')
REF_COLUMNS = ('ref', 'reference', 'ref_path', 'ref_img_path', 'ref_name')
TABLE_SUFFIXES = ('.csv', '.tsv')
GLOB_CHARACTERS = '*?['


@dataclass(frozen=True)
class ImageRow:
    path: str
    ref: str = ''
    problem: str = ''  # why the row cannot be read at all (a name outside --image-root)

    @property
    def key(self):
        return self.path, self.ref


@dataclass
class ImageList:
    rows: list  # [ImageRow], sorted by key, without duplicates
    relative: list  # each row's name relative to the listing's root (to match --ref folders), or None
    duplicates: int = 0  # rows dropped because they were listed twice
    kept: dict = None  # a CSV's other columns: {row key: {column: value}} (None for other sources)


def _is_image(path):
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith('.')


def _folder_images(folder):
    found = []
    for parent, folders, files in os.walk(folder):  # symlinked folders are not followed (no loops)
        folders[:] = sorted(f for f in folders if not f.startswith('.'))
        found += [Path(parent, name) for name in files if _is_image(Path(name))]
    return sorted(found)


def _join(root, name):
    return str(Path(root, name)) if str(root) not in ('', '.') else str(Path(name))


def _listed_row(root, name, source, ref=''):
    """A row for a name read from a list file: relative names must stay inside ``root``; a name no
    file can have (a NUL byte) is the row's problem."""
    if '\x00' in name:
        return ImageRow(name.replace('\x00', '\\0'), ref, problem=f'{source}: the name contains a NUL byte, '
                        'which no file name can; fix the list.'), None
    if os.path.isabs(os.path.expanduser(name)):
        return ImageRow(os.path.expanduser(name), ref), None
    try:
        inside_folder(root, name, source, what='image root (--image-root)')
    except UserError as err:
        return ImageRow(_join(root, name), ref, problem=str(err)), None
    return ImageRow(_join(root, name), ref), name


def _pick_column(columns, wanted, candidates, what, flag, source):
    if wanted:
        if wanted not in columns:
            raise UserError(f'{source}: no column {wanted!r} ({flag}); it has {", ".join(map(str, columns))}.')
        return wanted
    found = next((c for c in candidates if c in columns), None)
    if found is None and what == 'path':
        raise UserError(f'{source}: no path column: name it one of {", ".join(candidates)} or pass {flag} '
                        f'(columns: {", ".join(map(str, columns))}).')
    return found


def _table_rows(source, root, path_column, ref_column):
    import pandas as pd

    try:  # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name
        table = pd.read_csv(source, sep='\t' if source.suffix.lower() == '.tsv' else ',', dtype=str,
                            keep_default_na=False, encoding='utf-8-sig')
    except UnicodeDecodeError:
        raise UserError(f'{source}: not UTF-8 text; save the CSV as UTF-8 and give it again.') from None
    except (ValueError, pd.errors.ParserError) as err:
        raise UserError(f'{source}: not a readable CSV ({type(err).__name__}: {err}).') from None
    path_column = _pick_column(list(table.columns), path_column, PATH_COLUMNS, 'path', '--path-column', source)
    ref_column = _pick_column(list(table.columns), ref_column, REF_COLUMNS, 'ref', '--ref-column', source)
    rows, relative, kept = [], [], []
    others = [c for c in table.columns if c not in (path_column, ref_column)]
    for number, record in enumerate(table.to_dict('records'), start=2):  # line 1 is the header
        name = record[path_column].strip()
        if not name:
            continue
        kept.append({c: record[c] for c in others})
        ref = ''
        if ref_column and record[ref_column].strip():
            ref_row, _ = _listed_row(root, record[ref_column].strip(), f'{source}, line {number}, {ref_column}')
            ref = ref_row.path
            if ref_row.problem:
                rows.append(ImageRow(_join(root, name), ref, problem=ref_row.problem))
                relative.append(None)
                continue
        row, name_below_root = _listed_row(root, name, f'{source}, line {number}', ref)
        rows.append(row)
        relative.append(name_below_root)
    return rows, relative, kept


def _text_rows(source, root):
    try:
        lines = source.read_text(encoding='utf-8-sig').splitlines()  # -sig: a byte-order mark is no path
    except UnicodeDecodeError:
        raise UserError(f'{source}: not a text file of image paths (it is not UTF-8 text); give a folder, '
                        'a glob, a text file with one path per line or a CSV.') from None
    rows, relative = [], []
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if name and not name.startswith('#'):
            row, name_below_root = _listed_row(root, name, f'{source}, line {number}')
            rows.append(row)
            relative.append(name_below_root)
    return rows, relative


def find_images(images, image_root=None, path_column=None, ref_column=None):
    """Every row ``--images`` names (see the module doc) -> ``ImageList``."""
    text = os.path.expanduser(str(images))
    if '\x00' in text:
        raise UserError(f'--images {images!r}: contains a NUL byte, which no file name can.')
    source = Path(text)
    kept = None
    if source.is_dir():
        files = _folder_images(source)
        rows = [ImageRow(str(p)) for p in files]
        relative = [str(p.relative_to(source)) for p in files]
        what = f'folder {images} (extensions {", ".join(IMAGE_EXTENSIONS)})'
    elif source.is_file() and source.suffix.lower() in IMAGE_EXTENSIONS:
        rows, relative, what = [ImageRow(text)], [source.name], str(images)
    elif source.is_file():
        root = Path(os.path.expanduser(image_root)) if image_root else source.parent
        if source.suffix.lower() in TABLE_SUFFIXES:
            rows, relative, kept = _table_rows(source, root, path_column, ref_column)
        else:
            rows, relative = _text_rows(source, root)
        what = f'list {images}'
    elif any(c in text for c in GLOB_CHARACTERS):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p))
        rows, relative, what = [ImageRow(str(p)) for p in files], [None] * len(files), f'glob {images!r}'
    else:
        raise UserError(f'--images {images}: no such folder, file or glob match. Give a folder, a glob '
                        '(quoted), a text file with one path per line, a CSV with a path column, or an image.')
    if not rows:
        raise UserError(f'--images: no images in {what}.')
    unique = {}
    for row, name in zip(rows, relative):
        unique.setdefault(row.key, (row, name))
    ordered = sorted(unique.values(), key=lambda pair: pair[0].key)
    kept_by_key = {}
    for row, values in zip(rows, kept or ()):
        kept_by_key.setdefault(row.key, values)
    return ImageList([r for r, _ in ordered], [n for _, n in ordered], duplicates=len(rows) - len(unique),
                     kept=kept_by_key if kept else None)


def pair_with_folder(image_list, ref_folder):
    """Give each row the file of the same relative path below ``ref_folder`` as its reference."""
    folder = Path(os.path.expanduser(str(ref_folder)))
    if not folder.is_dir():
        raise UserError(f'--ref {ref_folder}: not a folder. Give the folder of reference images (matched by '
                        'relative path), or a CSV with a reference column as --images.')
    if any(row.ref for row in image_list.rows):
        raise UserError('--ref: the --images CSV already names a reference per row; give one or the other.')
    rows = []
    for row, name in zip(image_list.rows, image_list.relative):
        if name is None:
            problem = row.problem or (f'{row.path} cannot be matched to --ref {ref_folder} by relative path '
                                      '(absolute or glob-matched names): list the pairs in a CSV instead')
            rows.append(ImageRow(row.path, '', problem))
        else:
            rows.append(ImageRow(row.path, str(folder / name), row.problem))
    kept = {row.key: image_list.kept[old.key] for row, old in zip(rows, image_list.rows)} if image_list.kept else None
    return ImageList(rows, image_list.relative, image_list.duplicates, kept)
