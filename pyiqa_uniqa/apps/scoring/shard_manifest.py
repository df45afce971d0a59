"""What ``score --shard i/n`` writes beside its table, so ``--merge`` can tell that every shard is there.

``<table>.shard.json``::

    {"shard": 3, "of": 16, "rows": 6250, "inputs": "<sha256 of every row key of all n shards>",
     "columns": ["uniqa:score#1f0c..."]}

It is written after the table (atomically), so a table without one is a shard that did not finish.
``check_complete`` refuses a merge unless the tables come from one job (the same inputs and columns),
each shard once, all n of them; the message names what is missing and how to make it.
"""
import hashlib
import json
from pathlib import Path

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.files import write_file

SUFFIX = '.shard.json'


def manifest_path(table):
    return Path(f'{table}{SUFFIX}')


def _inputs_hash(rows):
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row.key).encode('utf-8') + b'\n')
    return digest.hexdigest()


def write_manifest(table, shard, all_rows, columns):
    """Record that ``table`` is shard ``shard`` (i, n) of the job over ``all_rows`` (every shard's rows)."""
    index, count = shard
    manifest = {'shard': index, 'of': count, 'rows': len(all_rows[index::count]), 'inputs': _inputs_hash(all_rows),
                'columns': [c.id for c in columns]}
    write_file(manifest_path(table), json.dumps(manifest, indent=1) + '\n')


def _read(table):
    path = manifest_path(table)
    try:
        manifest = json.loads(path.read_text(encoding='utf-8'))
        int(manifest['shard']), int(manifest['of']), manifest['inputs'], manifest['columns']
    except FileNotFoundError:
        raise UserError(f'--merge {table}: no {path.name} beside it, so it is not a finished `score --shard i/n` '
                        'table; run that shard again (it resumes from its journal).') from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise UserError(f'--merge {table}: {path} is not a shard manifest written by score; run that shard '
                        'again.') from None
    return manifest


def check_complete(tables, frames):
    """Refuse unless ``tables`` (paths, read as ``frames``) are every shard of one job once; -> n."""
    manifests = [_read(table) for table in tables]
    def job(manifest):
        return manifest['of'], manifest['inputs'], manifest['columns']

    first = manifests[0]
    for table, manifest in zip(tables, manifests):
        if job(manifest) != job(first):
            raise UserError(f'--merge: {table} and {tables[0]} are shards of different jobs (other images, '
                            'metrics or shard count); merge the shards of one job.')
    for table, manifest, frame in zip(tables, manifests, frames):
        if len(frame) != manifest['rows']:
            raise UserError(f'--merge {table}: {len(frame)} rows, but its shard wrote {manifest["rows"]}; '
                            'the table was changed after it was written: run that shard again.')
    given = {}
    for table, manifest in zip(tables, manifests):
        given.setdefault(manifest['shard'], []).append(str(table))
    count = first['of']
    twice = {shard: names for shard, names in given.items() if len(names) > 1}
    if twice:
        shard, names = next(iter(twice.items()))
        raise UserError(f'--merge: shard {shard}/{count} is in more than one of the tables ({", ".join(names)}); '
                        'give each shard once.')
    missing = [f'{i}/{count}' for i in range(count) if i not in given]
    if missing:
        raise UserError(f'--merge: shard(s) {", ".join(missing)} missing (have {len(given)} of {count}): run '
                        f'`score ... --shard {missing[0]}` with the same images and metrics and add its table.')
    return count
