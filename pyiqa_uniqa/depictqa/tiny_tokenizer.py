"""An offline tokenizer for tiny test/demo models: a byte-level BPE trained on DepictQA's own text.

Real models use their LM's tokenizer (Vicuna's LLaMA tokenizer for the released weights). Tests
and the CPU demo cannot download one, so this builds a small BPE with the ``tokenizers`` library
from the prompt templates and answer vocabulary, in memory, in milliseconds. Byte-level BPE
covers any text (no unknown tokens) and decodes exactly. ``</s>`` is a special token, so the
literal "</s>" in DepictQA's prompt text becomes the EOS id, as with the LLaMA tokenizer.

Save it with ``tokenizer.save_pretrained(folder)`` and load it back with
``transformers.AutoTokenizer.from_pretrained(folder)`` (see ``DepictQAConfig``).
"""
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from pyiqa_uniqa.depictqa import templates

SPECIAL_TOKENS = ('<unk>', '<s>', '</s>', '<pad>')
TINY_VOCAB_SIZE = 1200


def template_corpus():
    """Every string the templates can produce, plus the answer words in both cases."""
    lines = [templates.system_text('quality_compare'), templates.system_text('quality_compare_noref'),
             templates.SINGLE_WORD_TAIL, templates.USER_TURN, templates.SEGMENT_SEPARATOR,
             templates.NO_DISTORTION_SENTENCE, templates.NO_DISTORTION_WORD,
             templates.ASSESS_DETAIL_QUESTION, templates.COMPARE_DETAIL_QUESTION]
    for label, opening, closing in templates.IMAGE_TAGS.values():
        lines.append(f'{label}: {opening} {closing}')
    for bank in (templates.IDENTIFY_QUESTIONS_NR, templates.IDENTIFY_QUESTIONS_FR):
        for forms in bank:
            lines.extend(forms.values())
    lines.extend(templates.IDENTIFY_SENTENCE.values())
    lines.extend(templates.RATE_AB_QUESTIONS + templates.RATE_AB_SENTENCES + templates.AB_ANSWERS)
    lines.extend(templates.RATE_LEVEL_QUESTIONS + (templates.RATE_LEVEL_SENTENCE,))
    for level, _ in templates.QUALITY_LEVELS:
        lines.extend([level, level.lower()])
    for word in sorted(set(templates.DISTORTION_WORDS.values())):
        lines.extend([word, templates.capitalised(word), f' {word} and {word}'])
    return lines


def build_tiny_tokenizer(vocab_size=TINY_VOCAB_SIZE):
    """A ``PreTrainedTokenizerFast`` (bos <s>, eos </s>, pad <pad>, unk <unk>); deterministic."""
    tokenizer = Tokenizer(models.BPE(unk_token='<unk>'))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # repeated so that whole answer words win merges over rarer fragments
    tokenizer.train_from_iterator(template_corpus() * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token='<s>', eos_token='</s>', pad_token='<pad>',
        unk_token='<unk>', padding_side='right')
