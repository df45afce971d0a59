"""The official DepictQA input sequence: text pieces and image slots, and its embedding.

Layout (``vicuna_v1`` conversation, unique tags)::

    <s> SYS " </s> " "Reference Image: <Img-Reference>" [ref tokens] "</Img-Reference>\\n\\n"
        " </s> " "Image A: <Img-A>" [A tokens] "</Img-A>\\n\\n" ... " </s> " "USER: {q}\\n   ASSISTANT: "
        answer "\\n </s>"

Images have no placeholder tokens: their projected patch tokens are spliced between the text
embeddings. Each text piece is tokenized on its own without special tokens, as the official
code does, so "</s>" inside the text is the EOS id. Labels are -100 everywhere except the
answer tokens (the loss is on answers only). A later turn starts with "USER:" right after the
previous answer's "</s>", without a space, as the official ``_tokenize_conv``.
"""
import dataclasses
from typing import NamedTuple

import torch

from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.errors import InvalidInputError, UnknownNameError

IGNORE_INDEX = -100


@dataclasses.dataclass(frozen=True)
class TextPiece:
    token_ids: tuple
    is_answer: bool = False


@dataclasses.dataclass(frozen=True)
class ImageSlot:
    source: str  # which input image fills it: 'ref', 'A' or 'B'


def prompt_texts(task, unique_tag=True):
    """The text around the image slots: a list alternating str, ImageSlot, ..., str (no query)."""
    if task not in templates.TASK_LAYOUTS:
        raise UnknownNameError(f'unknown DepictQA task {task!r}; one of {sorted(templates.TASK_LAYOUTS)}')
    parts, text = [], templates.system_text(task)
    for role, source in templates.TASK_LAYOUTS[task]:
        label, opening, closing = templates.IMAGE_TAGS[role]
        if not unique_tag:
            opening, closing = templates.SHARED_TAG
        parts.extend([text + templates.SEGMENT_SEPARATOR + f'{label}: {opening}', ImageSlot(source)])
        text = f'{closing}\n\n'
    parts.append(text + templates.SEGMENT_SEPARATOR)
    return parts


class SequenceBuilder:
    """Turns (task, conversation) into pieces; caches the tokenization of the fixed text."""

    def __init__(self, tokenizer, unique_tag=True):
        self.tokenizer = tokenizer
        self.unique_tag = unique_tag
        self._cache = {}

    def token_ids(self, text):
        ids = self._cache.get(text)
        if ids is None:
            ids = tuple(self.tokenizer(text, add_special_tokens=False)['input_ids'])
            if len(self._cache) < 4096:  # fixed prompt text repeats; user text is unbounded
                self._cache[text] = ids
        return ids

    def pieces(self, task, turns, max_text_tokens=None):
        """``turns``: [(query, answer), ...]; the last answer may be None (generation prompt).

        Returns a list of TextPiece / ImageSlot. The BOS token is the first text piece. The text
        after the last image (the first query with the closing tag before it, then answers and
        later turns) is the official "conversation"; ``max_text_tokens`` cuts it from the end, as
        the official training does (official 512; BOS, system text, tags and images do not count).
        """
        if not turns:
            raise InvalidInputError('a DepictQA conversation needs at least one question')
        parts = prompt_texts(task, self.unique_tag)
        pieces = [TextPiece((self.tokenizer.bos_token_id,))]
        for part in parts[:-1]:
            pieces.append(ImageSlot(part.source) if isinstance(part, ImageSlot)
                          else TextPiece(self.token_ids(part)))
        conversation = []
        for index, (query, answer) in enumerate(turns):
            lead = parts[-1] if index == 0 else ''
            conversation.append(TextPiece(self.token_ids(lead + templates.USER_TURN.format(query=query))))
            if answer is not None:
                conversation.append(TextPiece(self.token_ids(answer + templates.ANSWER_END), is_answer=True))
        if max_text_tokens is not None:
            conversation = _cut(conversation, max_text_tokens)
        return pieces + conversation


def _cut(pieces, budget):
    kept = []
    for piece in pieces:
        if budget <= 0:
            break
        kept.append(TextPiece(piece.token_ids[:budget], piece.is_answer))
        budget -= len(piece.token_ids)
    return kept


class Embedded(NamedTuple):
    embeds: object   # [L, D]
    labels: object   # [L]: the target id on answer tokens, IGNORE_INDEX elsewhere
    visible: object  # [L]: 1 where attention may look, 0 on hidden tokens


def embed_pieces(pieces, embed_tokens, image_tokens, hidden_token=None):
    """-> ``Embedded``; ``image_tokens[source]`` is [N, D] for that image.

    ``hidden_token``: an id hidden from attention in the conversation (the text after the last
    image): the official training mask ``ids != pad`` with pad = EOS hides every "</s>" there.
    """
    device = embed_tokens.weight.device
    last_image = max(i for i, p in enumerate(pieces) if isinstance(p, ImageSlot))
    chunks, labels, visible = [], [], []
    for index, piece in enumerate(pieces):
        if isinstance(piece, ImageSlot):
            tokens = image_tokens[piece.source]
            chunks.append(tokens.to(embed_tokens.weight.dtype))
            labels.append(torch.full((tokens.shape[0],), IGNORE_INDEX, dtype=torch.long, device=device))
            visible.append(torch.ones(tokens.shape[0], dtype=torch.long, device=device))
        elif piece.token_ids:
            ids = torch.tensor(piece.token_ids, dtype=torch.long, device=device)
            chunks.append(embed_tokens(ids))
            labels.append(ids if piece.is_answer else torch.full_like(ids, IGNORE_INDEX))
            hide = index > last_image and hidden_token is not None
            visible.append((ids != hidden_token).long() if hide else torch.ones_like(ids))
    return Embedded(torch.cat(chunks), torch.cat(labels), torch.cat(visible))


def pad_batch(rows, left=False, fill=None):
    """Stack ``Embedded`` rows -> (embeds [B, L, D], attention mask [B, L], labels [B, L]).

    Padding is zeros hidden by the mask; with ``fill`` (a [D] embedding) it is that embedding and
    attended (mask 1), as in the official batched inference, which pads with EOS.
    """
    longest = max(row.embeds.shape[0] for row in rows)
    first = rows[0].embeds
    embeds = first.new_zeros(len(rows), longest, first.shape[-1])
    if fill is not None:
        embeds[:] = fill.to(embeds.dtype)
    mask = torch.full((len(rows), longest), int(fill is not None), dtype=torch.long, device=first.device)
    labels = torch.full((len(rows), longest), IGNORE_INDEX, dtype=torch.long, device=first.device)
    for index, row in enumerate(rows):
        length = row.embeds.shape[0]
        span = slice(longest - length, longest) if left else slice(0, length)
        embeds[index, span] = row.embeds
        mask[index, span] = row.visible
        labels[index, span] = row.labels
    return embeds, mask, labels
