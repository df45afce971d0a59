"""Print, per item of the official-fidelity check, the largest difference between our DepictQA and the official.

    python tests/depictqa/depictqa_fidelity_report.py

Official files at a tiny size (written as the official code writes them), the scikit-image photos,
and the plain-tensor re-computation of the official forward in ``official_depictqa``.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import official_depictqa as official
from test_depictqa_fidelity import (
    CONVERSATION,
    QUERIES,
    TASK,
    create,
    official_image_tokens,
    official_level_score,
    official_training_loss,
    photos,
    reference_answer,
    request,
)

from pyiqa_uniqa.backbones.clip_input import ClipInput
from pyiqa_uniqa.data.photos import load_photos
from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.confidence import AnswerTokens, single_brief_confidence
from pyiqa_uniqa.depictqa.config import ImageSettings
from pyiqa_uniqa.depictqa.images import load_image, prepare_pixels


def row(item, what, difference):
    print(f'{item:<3} {what:<58} {difference}')


def main(folder):
    torch.set_num_threads(1)
    plain = official.write_official_files(folder / 'plain')
    with_abstractor = official.write_official_files(folder / 'abstractor', abstractor=True)
    query = templates.with_single_word_tail(templates.RATE_LEVEL_QUESTIONS[0])
    photo, = photos('coffee')
    for name, files in (('plain', plain), ('abstractor', with_abstractor)):
        score = create(files)(photo).item()
        row(1, f'{name} release: |score - official| (coffee, 400x600)', f'{abs(score - official_level_score(files, photo, query)):.1e}')

    settings = ImageSettings(resize=224, max_size=672, min_size=70)
    worst = 0.0
    for _, array in load_photos():
        expected = official.official_pixels(Image.fromarray(array), 224, 672, 70, patch=14) * official.STD
        for source in (Image.fromarray(array), torch.from_numpy(array).permute(2, 0, 1).float() / 255):
            ours = prepare_pixels(load_image(source)[None], settings, 14, ClipInput())[0] * official.STD
            worst = max(worst, float((ours.double() - expected).abs().max()) * 255)
    row(2, 'pixels: max |ours - official| in 1/255 (8 photos, PIL + tensor)', f'{worst:.1e}')

    tokens = AnswerTokens(plain['tokenizer'])
    tokenizer = plain['tokenizer']
    for answer, probs in (('Noise</s>', [0.9, 0.2]), ('Blur and noise and blur\n </s>', [0.9, 0.2, 0.6, 0.35, 0.15, 0.8, 0.7])):
        ids = tokenizer(answer, add_special_tokens=False).input_ids
        difference = abs(single_brief_confidence(ids, probs, tokens)
                         - official.single_brief_confidence([1] + ids, probs, tokens.end, tokens.and_id))
        row(3, f'brief confidence of {answer!r}', f'{difference:.1e}')

    net = create(plain).net
    chelsea, = photos('chelsea')
    custom = 'Describe in a few words what is wrong with this photo.'
    _, ids, probs = net.answer([request(chelsea, custom)])[0]
    sequence, expected = reference_answer(plain, {'A': chelsea}, custom)
    row(4, f'greedy: {len(ids)} tokens (official {sequence.shape[0] - 1}), max |p - official|',
        f'{float((torch.tensor(probs) - expected).abs().max()):.1e}')
    sampled = create(plain, config_overrides={'generation': {'temperature': 0.7, 'max_new_tokens': 24}}).net
    torch.manual_seed(5)
    _, ids, probs = sampled.answer([request(photo, QUERIES[0])])[0]
    torch.manual_seed(5)
    sequence, expected = reference_answer(plain, {'A': photo}, QUERIES[0], max_new_tokens=24, temperature=0.7)
    row(4, f'sampled (T 0.7, top-p 0.9): tokens equal {ids == sequence[1:].tolist()}, max |p - official|',
        f'{float((torch.tensor(probs) - expected).abs().max()):.1e}')

    for name, turns in (('one turn', CONVERSATION[:1]), ('two turns', CONVERSATION),
                        ('beyond 512 tokens', [(CONVERSATION[0][0], 'noise ' * 300)] * 2)):
        conversation = [{'from': s, 'value': t} for turn in turns for s, t in zip(('human', 'gpt'), turn)]
        with torch.no_grad():
            loss, _ = net.answer_loss([{'task': TASK, 'turns': turns, 'images': {'A': load_image(chelsea)}}])
        row(5, f'training loss, {name}: |ours - official|', f'{abs(float(loss) - official_training_loss(plain, chelsea, conversation)):.1e}')

    batched = create(plain, batching='official', config_overrides={'generation': {'max_new_tokens': 10}}).net
    images = [image.resize((224, 160), Image.BICUBIC) for image in photos('chelsea', 'coffee', 'astronaut')]
    rows = [(images[i % 3], QUERIES[i % 3] if i < 8 else QUERIES[(i + 1) % 3]) for i in range(16)]
    answers = batched.answer([request(image, q) for image, q in rows])
    lm = official.OfficialLM(plain['base_sd'], plain['delta_sd'], heads=4)
    image_tokens = [{'A': official_image_tokens(plain, official.official_pixels(image, 224, 672, 70, patch=32))}
                    for image, _ in rows]
    embeds, mask = official.generation_embeds(lm, tokenizer, TASK, [q for _, q in rows], image_tokens)
    sequences, expected = official.official_generate(lm, embeds, mask, tokenizer.eos_token_id, max_new_tokens=10)
    equal = sum(ids == [t for t in s[1:].tolist() if t != 0] for (_, ids, _), s in zip(answers, sequences))
    difference = max(float(np.abs(np.array(p) - e[:len(p)].numpy()).max()) for (_, _, p), e in zip(answers, expected))
    row(6, f"batch 16, batching='official': rows with equal tokens {equal}/16, max |p|", f'{difference:.1e}')


if __name__ == '__main__':
    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
