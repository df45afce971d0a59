"""The official sequence layout (tags, separators, image slots) and answer-only loss masking."""
import pytest
import torch

from pyiqa_uniqa.depictqa import templates
from pyiqa_uniqa.depictqa.sequence import IGNORE_INDEX, ImageSlot, TextPiece, embed_pieces, prompt_texts

SYS_NR = templates.SYSTEM_BASE + templates.SYSTEM_QUALITY + '\n\n'
SYS_FR = templates.SYSTEM_BASE + templates.SYSTEM_QUALITY + templates.SYSTEM_REFERENCE + '\n\n'


def test_layouts_match_the_official_table():
    # T1, T2, T3 and the query lead-in from depictqa.md §1.3 (unique tags)
    assert prompt_texts('quality_compare') == [
        SYS_FR + ' </s> Reference Image: <Img-Reference>', ImageSlot('ref'),
        '</Img-Reference>\n\n </s> Image A: <Img-A>', ImageSlot('A'),
        '</Img-A>\n\n </s> Image B: <Img-B>', ImageSlot('B'), '</Img-B>\n\n </s> ']
    assert prompt_texts('quality_compare_noref') == [
        SYS_NR + ' </s> Image A: <Img-A>', ImageSlot('A'), '</Img-A>\n\n </s> Image B: <Img-B>', ImageSlot('B'),
        '</Img-B>\n\n </s> ']
    assert prompt_texts('quality_single_A') == [
        SYS_FR + ' </s> Reference Image: <Img-Reference>', ImageSlot('ref'), '</Img-Reference>\n\n </s> Image: <Img>',
        ImageSlot('A'), '</Img>\n\n </s> ']
    assert prompt_texts('quality_single_B_noref') == [SYS_NR + ' </s> Image: <Img>', ImageSlot('B'), '</Img>\n\n </s> ']
    assert prompt_texts('quality_single_A_noref', unique_tag=False)[0].endswith('Image: <Img>')
    assert prompt_texts('quality_compare', unique_tag=False)[2] == '</Img>\n\n </s> Image A: <Img>'
    with pytest.raises(ValueError, match='unknown DepictQA task'):
        prompt_texts('quality_rank')


def test_pieces_bos_query_answer_and_eos_in_text(tiny_net):
    tok = tiny_net.tokenizer
    pieces = tiny_net.sequences.pieces('quality_single_A_noref', [('Which distortion?', 'Noise')])
    assert pieces[0] == TextPiece((tok.bos_token_id,))
    assert pieces[2] == ImageSlot('A')
    query = tok.decode(list(pieces[3].token_ids))
    assert query == '</Img>\n\n </s> USER: Which distortion?\n   ASSISTANT: '
    assert tok.eos_token_id in pieces[1].token_ids  # "</s>" in the prompt text is the EOS id
    assert pieces[4].is_answer and tok.decode(list(pieces[4].token_ids)) == 'Noise\n </s>'
    assert pieces[4].token_ids[-1] == tok.eos_token_id


def test_images_spliced_between_tags_and_labels_only_on_answers(tiny_net):
    pieces = tiny_net.sequences.pieces('quality_compare', [('Which is better?', 'Image A')])
    dim = tiny_net.llm.get_input_embeddings().weight.shape[1]
    images = {'ref': torch.full((3, dim), 1.0), 'A': torch.full((5, dim), 2.0), 'B': torch.full((7, dim), 3.0)}
    embeds, labels, visible = embed_pieces(pieces, tiny_net.llm.get_input_embeddings(), images)
    assert bool((visible == 1).all())  # nothing hidden unless asked (inference)
    lengths = [len(p.token_ids) if isinstance(p, TextPiece) else images[p.source].shape[0] for p in pieces]
    assert embeds.shape[0] == sum(lengths) == labels.shape[0]
    starts = torch.tensor([0] + lengths).cumsum(0)
    for index, piece in enumerate(pieces):
        span = slice(int(starts[index]), int(starts[index + 1]))
        if isinstance(piece, ImageSlot):
            assert torch.equal(embeds[span], images[piece.source])  # ref, A, B in slot order
            assert (labels[span] == IGNORE_INDEX).all()
        elif piece.is_answer:
            assert labels[span].tolist() == list(piece.token_ids)
        else:
            assert (labels[span] == IGNORE_INDEX).all()
    assert [p.source for p in pieces if isinstance(p, ImageSlot)] == ['ref', 'A', 'B']


def test_answer_loss_is_cross_entropy_over_answer_tokens_only(tiny_net):
    image = torch.rand(3, 40, 48)
    request = {'task': 'quality_single_A_noref', 'turns': [('Which distortion?', 'Blur and noise')],
               'images': {'A': image}}
    tiny_net.eval()
    with torch.no_grad():
        loss, _ = tiny_net.answer_loss([request])
        row, = tiny_net._embed([request], training=True)
        logits = tiny_net.llm(inputs_embeds=row.embeds[None], attention_mask=row.visible[None]).logits[0]
    labels = [row.labels]
    answer_positions = (labels[0] != IGNORE_INDEX).nonzero().flatten()
    log_probs = torch.log_softmax(logits.float(), -1)
    manual = -torch.stack([log_probs[p - 1, labels[0][p]] for p in answer_positions]).mean()
    assert len(answer_positions) == len(tiny_net.tokenizer('Blur and noise\n </s>', add_special_tokens=False).input_ids)
    assert torch.allclose(loss, manual, atol=1e-5)
    # the prompt text carries no loss: a different question leaves the answer targets unchanged
    other = dict(request, turns=[('Another question entirely?', 'Blur and noise')])
    assert (tiny_net._embed([other])[0].labels != IGNORE_INDEX).sum() == len(answer_positions)


def test_text_limit_counts_the_conversation_only_and_cuts_from_the_end(tiny_net):
    """Official: the text after the images (first query included) is cut at the limit; BOS, system
    text and tags do not count, and whatever lies beyond the limit goes, answer or question."""
    tok = tiny_net.tokenizer
    turns = [('Q?', 'noise ' * 200), ('And then?', 'blur')]
    full = tiny_net.sequences.pieces('quality_single_A_noref', turns)
    cut = tiny_net.sequences.pieces('quality_single_A_noref', turns, max_text_tokens=120)
    assert full[:3] == cut[:3]  # BOS, system text, image: not counted, never cut
    conversation = [p for p in cut[3:]]
    assert sum(len(p.token_ids) for p in conversation) == 120
    assert [p.is_answer for p in conversation] == [False, True]  # the second turn is gone
    assert conversation[1].token_ids == full[4].token_ids[:120 - len(full[3].token_ids)]
    question_only = tiny_net.sequences.pieces('quality_single_A_noref', turns, max_text_tokens=5)
    assert [len(p.token_ids) for p in question_only[3:]] == [5]  # the query itself is cut too
    later = tok.decode(list(full[5].token_ids))
    assert later == 'USER: And then?\n   ASSISTANT: '  # no space after the previous "</s>"
