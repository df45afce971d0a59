"""The output folder's record of what the protocol is: ``protocol.yml`` and ``manifest.json``.

``protocol.yml`` is the whole request as a protocol file (paths absolute), so
``pyiqa-uniqa protocol -opt <out>/protocol.yml --out <out>`` reruns or resumes it exactly.
``manifest.json`` lists every unit (with the digest of its options) and where each dataset's splits
came from: ``--merge`` reads it, so it knows which units a complete table needs without the recipes
or the datasets. Every shard process writes the same two files; a folder holding another
protocol's manifest is refused, so results of two protocols never mix.
"""
import json
from pathlib import Path

import yaml

from pyiqa_uniqa.apps.protocol.plan import Unit
from pyiqa_uniqa.apps.protocol.request import ProtocolError
from pyiqa_uniqa.files import write_file

MANIFEST_NAME = 'manifest.json'
PROTOCOL_NAME = 'protocol.yml'


def make_manifest(request, plan):
    return {'protocol': request.as_file(),
            'units': [unit.record() for unit in plan.units],
            'splits': {d.name: d.source for d in plan.split_files}}


def read_manifest(out_dir):
    path = Path(out_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ProtocolError(f'{path} cannot be read ({err}); it was not written by pyiqa-uniqa protocol.') from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get('units'), list):
        raise ProtocolError(f'{path} is not a protocol manifest.')
    return manifest


def check_out_folder(out_dir, manifest):
    """Refuse an output folder that is a file, or holds another protocol's manifest."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ProtocolError(f'--out {out_dir} is a file; name a folder.')
    existing = read_manifest(out_dir)
    if existing is None:
        if out_dir.is_dir() and any(out_dir.iterdir()):
            raise ProtocolError(f'--out {out_dir} holds files but no {MANIFEST_NAME}; choose an empty or new folder.')
        return
    if existing != manifest:
        old, new = existing.get('protocol') or {}, manifest['protocol']
        changed = (sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                   or ["the units' training options (a recipe changed?)"])
        raise ProtocolError(f'--out {out_dir} holds another protocol (it differs in: {", ".join(changed)}); '
                            'rerun with its protocol.yml to resume it, or choose another --out.')


def write_manifest(out_dir, manifest):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_file(out_dir / PROTOCOL_NAME, yaml.safe_dump(manifest['protocol'], sort_keys=False, allow_unicode=True))
    write_file(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=1))


def manifest_units(manifest):
    return [Unit(**record) for record in manifest['units']]
