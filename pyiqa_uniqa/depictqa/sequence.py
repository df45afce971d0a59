"""The official DepictQA input sequence: text pieces and image slots, and its embedding.

Layout (``vicuna_v1`` conversation, unique tags)::

    <s> SYS " </s> " "Reference Image: <Img-Reference>" [ref tokens] "</Img-Reference>\\n\\n"
        " </s> " "Image A: <Img-A>" [A tokens] "</Img-A>\\n\\n" ... " </s> " "USER: {q}\\n   ASSISTANT: "
        answer "\\n </s>"

Images have no placeholder tokens: their projected patch tokens are spliced between the text
embeddings. Each text piece is tokenized on its own without special tokens, as the official
code does, so "</s>" inside the text is the EOS id. Labels are -100 everywhere except the
answer tokens (the loss is on answers only).
"""
import dataclasses

from pyiqa_uniqa.depictqa import templates

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
        raise ValueError(f'unknown DepictQA task {task!r}; one of {sorted(templates.TASK_LAYOUTS)}')
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

    def __init__(self, tokenizer, unique_tag=True, max_text_tokens=512):
        self.tokenizer = tokenizer
        self.unique_tag = unique_tag
        self.max_text_tokens = max_text_tokens
        self._cache = {}

    def token_ids(self, text):
        ids = self._cache.get(text)
        if ids is None:
            ids = tuple(self.tokenizer(text, add_special_tokens=False)['input_ids'])
            if len(self._cache) < 4096:  # fixed prompt text repeats; user text is unbounded
                self._cache[text] = ids
        return ids

    def pieces(self, task, turns):
        """``turns``: [(query, answer), ...]; the last answer may be None (generation prompt).

        Returns a list of TextPiece / ImageSlot. The BOS token is the first text piece. Text beyond
        ``max_text_tokens`` (image tokens not counted, as in the official code) is cut from the
        end of the answers so that the prompt always survives.
        """
        if not turns:
            raise ValueError('a DepictQA conversation needs at least one question')
        parts = prompt_texts(task, self.unique_tag)
        pieces = [TextPiece((self.tokenizer.bos_token_id,))]
        for part in parts[:-1]:
            pieces.append(ImageSlot(part.source) if isinstance(part, ImageSlot)
                          else TextPiece(self.token_ids(part)))
        lead = parts[-1]
        for index, (query, answer) in enumerate(turns):
            prefix = lead if index == 0 else ' '
            pieces.append(TextPiece(self.token_ids(prefix + templates.USER_TURN.format(query=query))))
            if answer is not None:
                pieces.append(TextPiece(self.token_ids(answer + templates.ANSWER_END), is_answer=True))
        return self._truncate(pieces)

    def _truncate(self, pieces):
        budget = self.max_text_tokens - sum(len(p.token_ids) for p in pieces
                                            if isinstance(p, TextPiece) and not p.is_answer)
        kept = []
        for piece in pieces:
            if isinstance(piece, TextPiece) and piece.is_answer:
                piece = TextPiece(piece.token_ids[:max(budget, 0)], True)
                budget -= len(piece.token_ids)
            kept.append(piece)
        return kept


def embed_pieces(pieces, embed_tokens, image_tokens):
    """-> (embeddings [L, D], labels [L]); ``image_tokens[source]`` is [N, D] for that image."""
    import torch
    device = embed_tokens.weight.device
    chunks, labels = [], []
    for piece in pieces:
        if isinstance(piece, ImageSlot):
            tokens = image_tokens[piece.source]
            chunks.append(tokens.to(embed_tokens.weight.dtype))
            labels.append(torch.full((tokens.shape[0],), IGNORE_INDEX, dtype=torch.long, device=device))
        elif piece.token_ids:
            ids = torch.tensor(piece.token_ids, dtype=torch.long, device=device)
            chunks.append(embed_tokens(ids))
            labels.append(ids if piece.is_answer else torch.full_like(ids, IGNORE_INDEX))
    return torch.cat(chunks), torch.cat(labels)


def pad_batch(sequences, labels=None, left=False, fill=None):
    """Stack [L_i, D] embeddings -> (embeds [B, L, D], mask [B, L], labels [B, L] or None).

    Padding is zeros hidden by the mask; with ``fill`` (a [D] embedding) it is that embedding and
    attended (mask 1), as in the official batched inference, which pads with EOS.
    """
    import torch
    longest = max(seq.shape[0] for seq in sequences)
    embeds = sequences[0].new_zeros(len(sequences), longest, sequences[0].shape[-1])
    if fill is not None:
        embeds[:] = fill.to(embeds.dtype)
    mask = torch.full((len(sequences), longest), int(fill is not None), dtype=torch.long, device=sequences[0].device)
    padded_labels = None if labels is None else torch.full(
        (len(sequences), longest), IGNORE_INDEX, dtype=torch.long, device=sequences[0].device)
    for row, seq in enumerate(sequences):
        span = slice(longest - seq.shape[0], longest) if left else slice(0, seq.shape[0])
        embeds[row, span] = seq
        mask[row, span] = 1
        if labels is not None:
            padded_labels[row, span] = labels[row]
    return embeds, mask, padded_labels
