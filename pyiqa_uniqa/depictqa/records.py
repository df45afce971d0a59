"""The DQ-495K record format: what a DepictQA meta file holds, read and checked.

A meta file is a JSON list (or JSON lines) of records:

- ``id``; ``image_ref`` / ``image_A`` / ``image_B``: paths relative to the data root, or null;
- ``task_type``: one of the six ``quality_*`` tasks (``TASK_IMAGES`` lists the images each needs);
- training records: ``conversations`` = [{"from": "human"|"gpt", "value": ...}, ...];
  test records: ``query`` and ``answer``;
- provenance, kept for evaluation: ``distortion_class``/``distortion_classes``, ``severity``/
  ``severities``, ``distortions_A``/``distortions_B``, ``A_better_B`` (and our ``quality_level``).

Non-IQA records (``task_type: description``, the LAMM set) use another prompt layout. Every
reader and writer of these files (the dataset, ``build-dq``, the evaluation) shares this module,
which depends on no other part of the package but the error base and the prompt table
(``templates``, which imports nothing).
"""
import json
from pathlib import Path

from pyiqa_uniqa.depictqa.templates import TASK_LAYOUTS
from pyiqa_uniqa.errors import InvalidInputError

IMAGE_FIELDS = {'ref': 'image_ref', 'A': 'image_A', 'B': 'image_B'}
# task_type -> the images its records must name (by IMAGE_FIELDS key), in prompt order: the image
# column of the official prompt layouts
TASK_IMAGES = {task: tuple(image for _, image in layout) for task, layout in TASK_LAYOUTS.items()}

# which accuracy a record's answer is scored by
KIND_IDENTIFY = 'identify'      # distortion identification (Task 1 brief)
KIND_RATE_AB = 'rate_ab'        # instant rating A/B (Task 2 brief)
KIND_RATE_LEVEL = 'rate_level'  # quality level (our extension)
KIND_OTHER = 'other'            # detailed answers: not scored by exact match

# an answer of fewer words (counted as text.split(' ')) is brief: the longest brief training answer
# has 19 words, the shortest detailed one 24
BRIEF_WORD_LIMIT = 22


class DQRecordError(InvalidInputError):
    """A meta file or record that does not follow the format."""


def is_brief(text):
    return len(text.split(' ')) < BRIEF_WORD_LIMIT


def read_records(path):
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise DQRecordError(f'{path} is not a text file (a DQ-495K meta file is JSON): {err}') from err
    try:
        records = json.loads(text)
    except json.JSONDecodeError:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise DQRecordError(f'{path} is neither a JSON list nor JSON lines: {err}') from err
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DQRecordError(f'{path}: expected a list of records (JSON objects), got {type(records).__name__}')
    return records


def record_turns(record):
    """[(question, answer or None), ...] from ``conversations`` or ``query``/``answer``."""
    if 'conversations' in record:
        turns, question = [], None
        for message in record['conversations']:
            speaker, value = message.get('from'), message.get('value')
            if speaker == 'human':
                question = value
            elif speaker == 'gpt' and question is not None:
                turns.append((question, value))
                question = None
        if not turns:
            raise DQRecordError(f"record {record.get('id')}: no human/gpt turn in conversations")
        return turns
    if 'query' in record:
        return [(record['query'], record.get('answer'))]
    raise DQRecordError(f"record {record.get('id')}: needs conversations or query")


def record_kind(record, answer):
    """Which accuracy a record's answer is scored by."""
    if answer is None or not is_brief(answer):
        return KIND_OTHER
    if record['task_type'].startswith('quality_compare'):
        return KIND_RATE_AB
    if 'quality_level' in record:
        return KIND_RATE_LEVEL
    return KIND_IDENTIFY


def check_record(record):
    """The record's turns, after checking its task and images."""
    task = record.get('task_type')
    if task not in TASK_IMAGES:
        raise DQRecordError(f"record {record.get('id')}: unknown task_type {task!r}")
    for source in TASK_IMAGES[task]:
        if not record.get(IMAGE_FIELDS[source]):
            raise DQRecordError(f"record {record.get('id')}: task {task} needs {IMAGE_FIELDS[source]}")
    return record_turns(record)
