"""``pyiqa-uniqa select-prompts``: keep, per attribute, the candidate pair that ranks a probe best.

Each candidate pair of the prompt bank is scored by the SRCC between its CLIP attribute score and
the probe's known order (see ``probe.py``). The SRCC is signed: a pair whose score runs against
the attribute (e.g. swapped prompts) gets a negative value and is never chosen. All prompts are
encoded in one pass and the probe images once, so the cost is one CLIP pass over the probe.
With random CLIP weights the SRCCs are meaningless; real selection needs real CLIP weights.
"""
import sys
import warnings

import numpy as np
import torch
from scipy.stats import spearmanr

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.attiqa.clip_scorer import (
    CLIPAttributeScorer,
    add_clip_arguments,
    build_clip_from_args,
    clip_input_size,
    encode_pairs,
    labeller_weights,
)
from pyiqa_uniqa.attiqa.errors import InputError
from pyiqa_uniqa.attiqa.probe import labelled_probe, read_probe_table, synthetic_probe
from pyiqa_uniqa.attiqa.prompt_bank import PROMPT_BANK
from pyiqa_uniqa.attiqa.prompts_file import write_prompts_file
from pyiqa_uniqa.data.photos import ALL_PHOTO_NAMES, unknown_photo_names


def sweep_srcc(scores, sweeps):
    """Mean signed SRCC of ``scores`` [N] over sweeps [(indices, expected)]; a constant score counts 0."""
    values = []
    for indices, expected in sweeps:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # constant input: spearmanr warns and returns nan
            rho = spearmanr(scores[indices], expected)[0]
        values.append(0.0 if np.isnan(rho) else float(rho))
    return float(np.mean(values))


def score_candidates(image_features, positive_text, negative_text, logit_scale, sweeps):
    """SRCC of each pair k: features [N, D], text [K, D] -> list of K floats."""
    probabilities = torch.sigmoid(logit_scale * (image_features @ positive_text.T - image_features @ negative_text.T))
    probabilities = probabilities.cpu().numpy()
    return [sweep_srcc(probabilities[:, k], sweeps) for k in range(probabilities.shape[1])]


def pick_best(candidates):
    """{attribute: [(pos, neg, srcc), ...]} -> {attribute: (pos, neg, srcc)} with the highest signed SRCC
    (the first listed wins a tie, so the bank's order is the tie-break)."""
    return {name: max(rows, key=lambda row: row[2]) for name, rows in candidates.items()}


def select_prompts(clip_model, tokenizer, probe, bank, batch_size=64, precision='fp32'):
    """Score every candidate of ``bank`` on ``probe``: {attribute: [(pos, neg, srcc), ...]}."""
    scorer = CLIPAttributeScorer(clip_model, tokenizer, {}, precision)
    features = torch.cat([scorer.image_features(probe.images[i:i + batch_size])
                          for i in range(0, len(probe.images), batch_size)])
    attributes = [name for name in ATTRIBUTES if name in probe.sweeps and name in bank]
    all_pairs = [pair for name in attributes for pair in bank[name]]
    positive, negative = encode_pairs(clip_model, tokenizer, all_pairs)
    scale = clip_model.logit_scale.detach().exp().float()
    candidates, start = {}, 0
    for name in attributes:
        stop = start + len(bank[name])
        srccs = score_candidates(features, positive[start:stop], negative[start:stop], scale, probe.sweeps[name])
        candidates[name] = [(pos, neg, srcc) for (pos, neg), srcc in zip(bank[name], srccs)]
        start = stop
    return candidates


def format_table(candidates, chosen):
    lines = [f'{"attribute":<13} {"SRCC":>7}  positive / negative']
    for name, rows in candidates.items():
        for pos, neg, srcc in sorted(rows, key=lambda row: -row[2]):
            mark = '*' if (pos, neg) == chosen[name][:2] else ' '
            lines.append(f'{name:<13} {srcc:>+7.3f}{mark} {pos!r} / {neg!r}')
    lines.append('* = chosen (highest signed SRCC against the probe order)')
    return '\n'.join(lines)


def add_arguments(parser):
    parser.add_argument('--probe', default='synthetic',
                        help="'synthetic' (data-kit distortions on scikit-image photos, known severity) or a CSV: "
                             'image path, then columns named after attributes (e.g. SPAQ attribute scores)')
    parser.add_argument('--image-root', default=None, help='folder the CSV paths are relative to (default: its folder)')
    parser.add_argument('--photos', nargs='*', default=None,
                        help='subset of scikit-image photos for the synthetic probe')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random distortions (noise)')
    parser.add_argument('--out', required=True, help='prompts YAML to write')
    add_clip_arguments(parser)


def run(args):
    # the user's inputs first: a wrong probe must not wait for CLIP to load (or download)
    if args.probe == 'synthetic':
        unknown = unknown_photo_names(args.photos or ())
        if unknown:
            raise InputError(f'--photos {" ".join(unknown)}: unknown photo(s); available: {", ".join(ALL_PHOTO_NAMES)}.')
        table = None
    else:
        table = read_probe_table(args.probe, args.image_root)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    clip_model, tokenizer = build_clip_from_args(args, device)
    size = clip_input_size(clip_model)
    probe = synthetic_probe(size=size, photos=args.photos, seed=args.seed) if table is None else \
        labelled_probe(table, size=size)
    print(f'probe: {probe.description}', file=sys.stderr)
    candidates = select_prompts(clip_model, tokenizer, probe, PROMPT_BANK, batch_size=args.batch_size,
                                precision=args.precision)
    chosen = pick_best(candidates)
    print(format_table(candidates, chosen))
    if labeller_weights(args) == 'random':
        print('warning: random CLIP weights: these SRCCs are meaningless; use real CLIP weights to select.',
              file=sys.stderr)
    path = write_prompts_file(args.out, chosen, candidates, clip_model=args.model_name,
                              backbone_weights=str(labeller_weights(args)), probe=probe.description)
    print(f'wrote {path}')
    return 0
