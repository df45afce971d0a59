"""A tiny random sentence-transformers model, saved the way ``all-MiniLM-L6-v2`` is on the Hub.

Same modules as MiniLM (a BERT encoder, mean pooling, L2 normalisation) and the same on-disk
layout (``SentenceTransformer.save``), with a one-layer 32-wide BERT and a word-piece vocabulary
of letters, digits and a few quality words, so any English text tokenizes. Random weights: the
vectors mean nothing, but everything that loads, tokenizes, pools and normalises is the real code.
"""
import string
import tempfile
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from transformers import BertConfig, BertModel, BertTokenizer

try:  # sentence-transformers >= 6 moved the modules; older releases keep them in .models
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
except ImportError:
    from sentence_transformers.models import Normalize, Pooling, Transformer

WORDS = ('the', 'image', 'photo', 'quality', 'is', 'a', 'and', 'of', 'very', 'not', 'good', 'bad', 'poor',
         'sharp', 'blurry', 'blur', 'noise', 'noisy', 'dark', 'bright', 'color', 'contrast', 'jpeg')


def write_tiny_sentence_model(folder, seed=0):
    """Save a tiny random sentence-transformers model in ``folder`` (created); return the folder."""
    characters = string.ascii_lowercase + string.digits
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *characters, *string.punctuation,
             *(f'##{c}' for c in characters), *WORDS]
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    with tempfile.TemporaryDirectory() as encoder:  # the BERT part, as Transformer() loads it
        (Path(encoder) / 'vocab.txt').write_text('\n'.join(vocab) + '\n')
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            BertModel(config).save_pretrained(encoder)
        BertTokenizer(str(Path(encoder) / 'vocab.txt')).save_pretrained(encoder)
        modules = [Transformer(encoder, max_seq_length=128), Pooling(config.hidden_size, 'mean'), Normalize()]
    SentenceTransformer(modules=modules, device='cpu').save(str(folder))
    return Path(folder)
