"""``pyiqa-uniqa purify``: keep the most relevant, most informative human comments per image.

UniQA's purification of AVA comments (the paper's Eq. 5, as its reviewers describe it): each
comment of an image gets an aesthetics-relevance rank (AR: similarity of its text embedding to the
image's generated aesthetic description, the MLLM's text serving as metadata) and an
informativeness rank (IR: its length); the comments with the smallest AR + IR (a plain sum) are
kept. What the paper leaves open, we choose (and expose):

- similarity: cosine of CLIP text-tower embeddings (``--embedder clip``, the backbone being
  trained), or of a sentence-transformers model (``--embedder sentence``, all-MiniLM-L6-v2 by
  default, ``sentence:<id or folder>`` for another), the package's one sentence embedder;
- length: tokens of the embedder's tokenizer (``--informativeness tokens``), or words, characters;
- k comments per image (``--top-k``, default 3);
- ranks are ordinal (1 = best): equal similarities or lengths are ordered by the comments' order
  in the input, and equal sums by AR then input order, so the result is deterministic;
- before ranking, empty comments and exact repeats (case and spacing ignored) are dropped, and
  images without a reference description lose all their comments; every drop is counted by reason.

Comments file: JSONL with ``image`` and ``comment`` (one per line) or ``comments`` (a list).
Reference file(s): caption JSONL from ``pyiqa-uniqa caption --task aesthetics``. Output: caption
records (task aesthetics, source comment) that ``ImageTextDataset`` reads. Resumable: images
already in the output are skipped.
"""
import json
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from pyiqa_uniqa.backbones import create_clip, get_tokenizer
from pyiqa_uniqa.backbones.clip import DEFAULT_CLIP
from pyiqa_uniqa.backbones.sentence_embedder import (
    DEFAULT_SENTENCE_MODEL,
    SentenceEmbedder,
)
from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.uniqa_pretrain.captioning_records import (
    CaptionFileError,
    RecordAppender,
    expand_caption_paths,
    read_records,
)

DROP_REASONS = ('empty', 'duplicate', 'no_reference', 'below_top_k')


def ordinal_ranks(values, descending=True):
    """1-based ranks of ``values``; ties keep input order."""
    order = sorted(range(len(values)), key=lambda i: (-values[i] if descending else values[i], i))
    ranks = [0] * len(values)
    for rank, index in enumerate(order, start=1):
        ranks[index] = rank
    return ranks


@dataclass
class RankedComment:
    index: int  # position among the image's comments
    text: str
    similarity: float
    length: int
    relevance_rank: int
    informativeness_rank: int

    @property
    def rank_sum(self):
        return self.relevance_rank + self.informativeness_rank


def rank_comments(texts, similarities, lengths, top_k):
    """The top-k comments by AR + IR (ties: AR, then input order), best first."""
    relevance = ordinal_ranks(similarities)
    informativeness = ordinal_ranks(lengths)
    ranked = [RankedComment(i, texts[i], float(similarities[i]), int(lengths[i]), relevance[i], informativeness[i])
              for i in range(len(texts))]
    ranked.sort(key=lambda c: (c.rank_sum, c.relevance_rank, c.index))
    return ranked[:top_k]


def _normalised(text):
    return ' '.join(text.casefold().split())


def clean_comments(comments):
    """(kept texts, Counter of drop reasons): drops empty comments and exact repeats."""
    kept, seen, dropped = [], set(), Counter()
    for text in comments:
        key = _normalised(text)
        if not key:
            dropped['empty'] += 1
        elif key in seen:
            dropped['duplicate'] += 1
        else:
            seen.add(key)
            kept.append(text.strip())
    return kept, dropped


class ClipTextEmbedder:
    """Unit-norm features of a CLIP text tower, the one being pre-trained (the sentence embedder
    cannot give that space); informativeness in CLIP BPE tokens (not truncated)."""

    def __init__(self, model_name, backbone_weights=None, device=None, batch_size=256):
        self.device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        self.model = create_clip(model_name, backbone_weights, device=self.device)
        self.tokenizer = get_tokenizer(model_name)
        self.batch_size = batch_size

    def embed(self, texts):
        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(texts[start:start + self.batch_size]).to(self.device)
                chunks.append(F.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu())
        return torch.cat(chunks)

    def token_count(self, text):
        return len(self.tokenizer.encode(text))


def build_embedder(spec, backbone_weights=None, device=None):
    """'clip' (the default CLIP), 'clip:<open_clip model>', 'sentence' (all-MiniLM-L6-v2) or
    'sentence:<Hugging Face id or folder>'. ``backbone_weights`` (CLIP only): a path, an open_clip
    tag, 'random', or None for OpenAI's weights."""
    kind, _, name = spec.partition(':')
    if kind == 'clip':
        return ClipTextEmbedder(name or DEFAULT_CLIP, backbone_weights, device)
    if kind == 'sentence':
        return SentenceEmbedder(name or DEFAULT_SENTENCE_MODEL, device, keyword='embedder', flag='--embedder')
    raise UserError(f"--embedder must be 'clip', 'clip:<open_clip model>', 'sentence' or "
                    f"'sentence:<model id or folder>', not {spec!r}.")


def length_function(kind, embedder):
    measures = {'tokens': embedder.token_count, 'words': lambda t: len(t.split()), 'chars': len}
    if kind not in measures:
        raise UserError(f'--informativeness must be one of {sorted(measures)}, not {kind!r}.')
    return measures[kind]


def read_comments(paths):
    """image -> list of comment strings, in input order; files without a comment are an error."""
    comments = OrderedDict()
    for path in expand_caption_paths(paths):
        records, _ = read_records(path)
        for number, record in enumerate(records, start=1):
            texts = record.get('comments', record.get('comment', record.get('text')))
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(record.get('image'), str) or not isinstance(texts, list) or \
                    not all(isinstance(t, str) for t in texts):
                raise CaptionFileError(f'{path} record {number}: need "image" and "comment" (a string) or '
                                       f'"comments" (a list of strings); got keys {sorted(record)}.')
            comments.setdefault(record['image'], []).extend(texts)
    if not comments:
        raise CaptionFileError(f'{" ".join(map(str, paths if isinstance(paths, list) else [paths]))}: no comment '
                               'records (JSON Lines with "image" and "comment" or "comments"); nothing to purify.')
    return comments


def read_references(paths, task='aesthetics'):
    """image -> list of reference records (captions of ``task``; records without a task count too)."""
    references = {}
    for path in expand_caption_paths(paths):
        records, _ = read_records(path)
        for record in records:
            if record.get('task', task) == task and isinstance(record.get('caption'), str):
                references.setdefault(record.get('image'), []).append(record)
    if not references:
        raise CaptionFileError(f'{" ".join(map(str, paths if isinstance(paths, list) else [paths]))}: no {task} '
                               'captions to compare the comments with (pyiqa-uniqa caption --task aesthetics writes them).')
    return references


def purify(comments, references, embedder, length, top_k, out_path, chunk_images=64, progress=True):
    """Rank and keep comments (see module doc); appends to ``out_path``; returns the drop report."""
    if top_k < 1:
        raise UserError(f'--top-k must be at least 1, got {top_k}.')
    done = set()
    if out_path.exists():
        done = {r['image'] for r in read_records(out_path)[0]}
    todo = [image for image in comments if image not in done]
    report = Counter({reason: 0 for reason in DROP_REASONS})
    report.update({'images': len(todo), 'images_already_done': len(comments) - len(todo), 'comments': 0, 'kept': 0})
    with RecordAppender(out_path) as appender, tqdm(total=len(todo), desc='purify', unit='img',
                                                    disable=not progress) as bar:
        for start in range(0, len(todo), chunk_images):
            chunk = todo[start:start + chunk_images]
            cleaned = {}
            for image in chunk:
                report['comments'] += len(comments[image])
                texts, dropped = clean_comments(comments[image])
                report.update(dropped)
                if image not in references:
                    report['no_reference'] += len(texts)
                elif texts:
                    cleaned[image] = texts
            all_texts = [t for texts in cleaned.values() for t in texts]
            reference_texts = [r['caption'] for image in cleaned for r in references[image]]
            comment_features = embedder.embed(all_texts) if all_texts else None
            reference_features = embedder.embed(reference_texts) if reference_texts else None
            records, c_at, r_at = [], 0, 0
            for image, texts in cleaned.items():
                refs = references[image]
                # several reference descriptions: compare against their mean direction
                reference = F.normalize(reference_features[r_at:r_at + len(refs)].mean(0), dim=0)
                similarities = (comment_features[c_at:c_at + len(texts)] @ reference).tolist()
                c_at, r_at = c_at + len(texts), r_at + len(refs)
                kept = rank_comments(texts, similarities, [length(t) for t in texts], top_k)
                report['below_top_k'] += len(texts) - len(kept)
                report['kept'] += len(kept)
                records += [_record(image, comment, refs[0]) for comment in kept]
            appender.write(records)
            bar.update(len(chunk))
    return dict(report)


def _record(image, comment, reference):
    return {'image': image, 'caption': comment.text, 'task': 'aesthetics', 'source': 'comment',
            'level': reference.get('level'), 'level_index': reference.get('level_index'), 'mos': reference.get('mos'),
            'similarity': round(comment.similarity, 6), 'relevance_rank': comment.relevance_rank,
            'informativeness_rank': comment.informativeness_rank, 'rank_sum': comment.rank_sum}


def format_report(report):
    dropped = sum(report[r] for r in DROP_REASONS)
    lines = [f"{report['comments']} comments on {report['images']} images: kept {report['kept']}, "
             f"dropped {dropped}" + (f" ({report['images_already_done']} images already done, skipped)"
                                     if report['images_already_done'] else '')]
    explanations = {'empty': 'empty or whitespace only', 'duplicate': 'repeat of an earlier comment on the same image',
                    'no_reference': 'image has no reference description', 'below_top_k': 'ranked below the top k'}
    lines += [f'  {report[r]:>8} {r}: {explanations[r]}' for r in DROP_REASONS]
    return '\n'.join(lines)


def add_arguments(parser):
    parser.add_argument('--comments', required=True, nargs='+', help='comment JSONL file(s) or globs')
    parser.add_argument('--reference', required=True, nargs='+',
                        help='generated aesthetic description JSONL(s) (pyiqa-uniqa caption --task aesthetics)')
    parser.add_argument('--out', required=True, help='output caption JSONL (appended to; resumes)')
    parser.add_argument('--top-k', type=int, default=3, help='comments kept per image')
    parser.add_argument('--embedder', default='clip',
                        help="'clip' (ViT-B-16-quickgelu), 'clip:<open_clip model>', 'sentence' "
                             f"({DEFAULT_SENTENCE_MODEL}) or 'sentence:<model id or folder>'")
    parser.add_argument('--backbone-weights', help="CLIP weights for --embedder clip: an OpenAI-layout file, an "
                        "open_clip tag or 'random' (default: 'openai', downloaded by open_clip)")
    parser.add_argument('--informativeness', default='tokens', choices=['tokens', 'words', 'chars'])
    parser.add_argument('--reference-task', default='aesthetics')
    parser.add_argument('--report', help='also write the drop report as JSON here')
    parser.add_argument('--device')
    parser.add_argument('--no-progress', action='store_true')


def run(args):
    comments = read_comments(args.comments)
    references = read_references(args.reference, args.reference_task)
    embedder = build_embedder(args.embedder, args.backbone_weights, args.device)
    report = purify(comments, references, embedder, length_function(args.informativeness, embedder),
                    args.top_k, Path(args.out), progress=not args.no_progress)
    print(format_report(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2))
