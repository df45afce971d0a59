"""pyiqa-uniqa purify: AR + IR ranking on a hand-worked example, drop reasons, determinism, the CLI."""
import json
import re

import torch

from pyiqa_uniqa.apps.cli import main
from pyiqa_uniqa.uniqa_pretrain.captioning_records import read_records
from pyiqa_uniqa.apps.purify import ordinal_ranks, purify, rank_comments

REFERENCE = 'Sharp focus, beautiful light and composition.'
COMMENTS = [
    'nice',                                                # relevance 0,     1 word
    'great composition and beautiful light',               # relevance 4/sqrt(30) = 0.730, 5 words
    'oh!!!',                                               # relevance 0,     1 word
    'I like the colours of this one, really a lot, wow',  # relevance 0,     11 words
    'good light',                                          # relevance 1/sqrt(12) = 0.289, 2 words
    '   ',                                                 # empty
    'Nice',                                                # repeat of 'nice'
]


class BagOfWordsEmbedder:
    """Word-count vectors: similarities that can be worked out by hand."""

    def __init__(self):
        self.vocabulary = {}

    def words(self, text):
        return re.findall(r'[a-z]+', text.lower())

    def embed(self, texts):
        for text in texts:
            for word in self.words(text):
                self.vocabulary.setdefault(word, len(self.vocabulary))
        vectors = torch.zeros(len(texts), 64)
        for row, text in enumerate(texts):
            for word in self.words(text):
                vectors[row, self.vocabulary[word]] += 1
        return torch.nn.functional.normalize(vectors, dim=1)

    def token_count(self, text):
        return len(self.words(text))


def test_ordinal_ranks_break_ties_by_input_order():
    assert ordinal_ranks([0.1, 0.9, 0.1, 0.5]) == [3, 1, 4, 2]
    assert ordinal_ranks([3, 1, 3], descending=False) == [2, 1, 3]


def test_hand_worked_example_keeps_the_known_top_three(tmp_path):
    # AR ranks: c1=1, c4=2, then the zero-similarity c0, c2, c3 = 3, 4, 5 (input order)
    # IR ranks: c3=1 (11 words), c1=2, c4=3, c0=4, c2=5 (1 word each, input order)
    # sums: c0=7, c1=3, c2=9, c3=6, c4=5 -> keep c1, c4, c3
    embedder = BagOfWordsEmbedder()
    comments = {'a.jpg': COMMENTS, 'b.jpg': ['lovely', 'meh']}
    references = {'a.jpg': [{'image': 'a.jpg', 'caption': REFERENCE, 'level': 'good', 'level_index': 3, 'mos': 6.1}]}
    out = tmp_path / 'clean.jsonl'
    report = purify(comments, references, embedder, embedder.token_count, 3, out, progress=False)
    kept = read_records(out)[0]
    assert [r['caption'] for r in kept] == [COMMENTS[1], COMMENTS[4], COMMENTS[3]]
    assert [(r['relevance_rank'], r['informativeness_rank'], r['rank_sum']) for r in kept] == [(1, 2, 3), (2, 3, 5),
                                                                                               (5, 1, 6)]
    assert abs(kept[0]['similarity'] - 4 / 30 ** 0.5) < 1e-5 and abs(kept[1]['similarity'] - 12 ** -0.5) < 1e-5
    assert kept[0]['task'] == 'aesthetics' and kept[0]['level'] == 'good' and kept[0]['mos'] == 6.1
    assert report == {'images': 2, 'images_already_done': 0, 'comments': 9, 'kept': 3, 'empty': 1,
                      'duplicate': 1, 'no_reference': 2, 'below_top_k': 2}
    # resumable: a second run skips a.jpg (b.jpg has no output, so it is looked at again)
    again = purify(comments, references, embedder, embedder.token_count, 3, out, progress=False)
    assert again['images_already_done'] == 1 and len(read_records(out)[0]) == 3


def test_equal_rank_sums_prefer_relevance_then_input_order():
    kept = rank_comments(['x', 'y', 'z'], similarities=[0.2, 0.9, 0.2], lengths=[9, 1, 9], top_k=3)
    # AR: x=2, y=1, z=3; IR: x=1, z=2, y=3; sums x=3, y=4, z=5
    assert [c.text for c in kept] == ['x', 'y', 'z']
    kept = rank_comments(['p', 'q'], similarities=[0.1, 0.8], lengths=[5, 1], top_k=1)
    assert [c.text for c in kept] == ['q']  # sums tie at 3: the more relevant wins


def test_cli_with_the_clip_text_tower(tmp_path, tiny_clip_checkpoint, capsys):
    comments, reference = tmp_path / 'comments.jsonl', tmp_path / 'caps.jsonl'
    comments.write_text(''.join(json.dumps(r) + '\n' for r in [
        {'image': 'a.jpg', 'comments': COMMENTS},
        {'image': 'b.jpg', 'comment': 'lovely colours'},
        {'image': 'b.jpg', 'comment': 'too dark for me'},
    ]))
    reference.write_text(''.join(json.dumps(r) + '\n' for r in [
        {'image': 'a.jpg', 'task': 'aesthetics', 'caption': REFERENCE, 'level': 'good', 'level_index': 3, 'mos': 6.0},
        {'image': 'b.jpg', 'task': 'aesthetics', 'caption': 'Warm colours.', 'level': 'fair', 'level_index': 2,
         'mos': 5.0},
        {'image': 'b.jpg', 'task': 'quality', 'caption': 'Sharp.', 'level': 'fair', 'level_index': 2, 'mos': 5.0},
    ]))
    out, report_file = tmp_path / 'clean.jsonl', tmp_path / 'report.json'
    main(['purify', '--comments', str(comments), '--reference', str(reference), '--top-k', '2', '--out', str(out),
          '--embedder', 'clip:tiny-clip-quickgelu', '--backbone-weights', str(tiny_clip_checkpoint),
          '--report', str(report_file), '--no-progress'])
    kept = read_records(out)[0]
    assert [r['image'] for r in kept] == ['a.jpg', 'a.jpg', 'b.jpg', 'b.jpg']
    assert json.loads(report_file.read_text())['below_top_k'] == 3
    printed = capsys.readouterr().out
    assert '9 comments on 2 images: kept 4, dropped 5' in printed and 'repeat of an earlier comment' in printed


def test_cli_with_the_sentence_embedder(tmp_path, capsys):
    """``--embedder sentence:<folder>``: the package's one sentence embedder (sentence-transformers)."""
    from pyiqa_uniqa.backbones.sentence_embedder import SentenceEmbedder
    from pyiqa_uniqa.testing.tiny_sentence_model import write_tiny_sentence_model

    model = write_tiny_sentence_model(tmp_path / 'tiny-minilm')
    comments, reference = tmp_path / 'comments.jsonl', tmp_path / 'caps.jsonl'
    comments.write_text(json.dumps({'image': 'a.jpg', 'comments': COMMENTS}) + '\n')
    reference.write_text(json.dumps({'image': 'a.jpg', 'task': 'aesthetics', 'caption': REFERENCE}) + '\n')
    out = tmp_path / 'clean.jsonl'
    assert main(['purify', '--comments', str(comments), '--reference', str(reference), '--top-k', '2',
                 '--out', str(out), '--embedder', f'sentence:{model}', '--no-progress']) == 0
    kept = read_records(out)[0]
    # the kept comments are the top two by AR + IR, AR computed with that embedder's similarities
    embedder = SentenceEmbedder(model, device='cpu')
    texts = COMMENTS[:5]  # the cleaned comments: the empty one and the repeat are dropped
    similarities = (embedder.embed(texts) @ embedder.embed([REFERENCE])[0]).tolist()
    expected = rank_comments(texts, similarities, [embedder.token_count(t) for t in texts], 2)
    assert [r['caption'] for r in kept] == [c.text for c in expected]
    assert [r['similarity'] for r in kept] == [round(c.similarity, 6) for c in expected]


def test_missing_and_malformed_inputs_exit_2_naming_the_file(tmp_path, capsys):
    reference = tmp_path / 'caps.jsonl'
    reference.write_text(json.dumps({'image': 'a.jpg', 'task': 'aesthetics', 'caption': REFERENCE}) + '\n')
    bad_record = tmp_path / 'bad.jsonl'
    bad_record.write_text(json.dumps({'image': 'a.jpg', 'comment': 3}) + '\n')
    for comments, needle in ((tmp_path / 'missing.jsonl', 'missing.jsonl does not exist'),
                             (bad_record, 'bad.jsonl record 1: need "image" and "comment"')):
        assert main(['purify', '--comments', str(comments), '--reference', str(reference),
                     '--out', str(tmp_path / 'clean.jsonl'), '--embedder', 'sentence', '--no-progress']) == 2
        error = capsys.readouterr().err
        assert error.startswith('pyiqa-uniqa purify: error: ') and needle in error and 'Traceback' not in error
    assert not (tmp_path / 'clean.jsonl').exists()


def test_a_missing_clip_file_is_named_with_the_flag_that_took_it(tmp_path, capsys):
    """The CLIP embedder's weights come in through --backbone-weights, the flag its messages name."""
    reference = tmp_path / 'caps.jsonl'
    reference.write_text(json.dumps({'image': 'a.jpg', 'task': 'aesthetics', 'caption': REFERENCE}) + '\n')
    comments = tmp_path / 'comments.jsonl'
    comments.write_text(json.dumps({'image': 'a.jpg', 'comments': COMMENTS}) + '\n')
    assert main(['purify', '--comments', str(comments), '--reference', str(reference), '--out',
                 str(tmp_path / 'clean.jsonl'), '--embedder', 'clip:tiny-clip-quickgelu',
                 '--backbone-weights', str(tmp_path / 'missing.pt'), '--no-progress']) == 2
    error = capsys.readouterr().err
    assert 'missing.pt' in error and '--backbone-weights' in error and 'Traceback' not in error
    assert not (tmp_path / 'clean.jsonl').exists()
