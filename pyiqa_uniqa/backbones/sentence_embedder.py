"""The one sentence embedder: unit vectors for sentences, from a sentence-transformers model.

DepictQA's confidence compares detailed answers by sentence similarity, and UniQA's comment
purification ranks comments by their similarity to an image's other comments; both use
``sentence-transformers/all-MiniLM-L6-v2`` (what the DepictQA authors use) through the
sentence-transformers library, so pooling, truncation (the model's ``max_seq_length``, 256 for
MiniLM) and the empty-input guard of mean pooling are the library's, not ours.

A model is a Hugging Face id or a local folder saved by ``SentenceTransformer.save`` (or
downloaded with ``hf download sentence-transformers/all-MiniLM-L6-v2 --local-dir <folder>``).
An id is looked up in the Hugging Face cache first; only a model that is not there is
downloaded, and offline that fails at once with a message that says how to get it.
"""
import os

import torch

from pyiqa_uniqa.weights import (
    WeightsNotFoundError,
    WeightSource,
    hf_cache_path,
    hf_model_available,
    require_network,
)

DEFAULT_SENTENCE_MODEL = 'sentence-transformers/all-MiniLM-L6-v2'


def sentence_model_source(keyword='model', flag=''):
    """Where a sentence model comes from, for messages: ``keyword``/``flag`` take a local folder."""
    return WeightSource(
        DEFAULT_SENTENCE_MODEL, keyword=keyword, flag=flag, what='The sentence model',
        get=f'the Hugging Face Hub (`hf download {DEFAULT_SENTENCE_MODEL} --local-dir <folder>`; any '
            'sentence-transformers model works)')


class SentenceEmbedder:
    """``embed(texts)`` -> [N, D] float32 unit vectors on the CPU; ``token_count(text)``.

    Args:
        model: a Hugging Face id, a local folder, or a loaded ``SentenceTransformer``.
        device: where the model runs (default: CUDA if available, else CPU).
        batch_size: sentences encoded together.
        keyword, flag: the option and command-line flag that name the model where the caller
            takes it (e.g. ``sentence_model``), for the message when it is missing.
    """

    def __init__(self, model=DEFAULT_SENTENCE_MODEL, device=None, batch_size=256, keyword='model', flag=''):
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        if isinstance(model, (str, os.PathLike)):
            model = load_sentence_model(model, device, sentence_model_source(keyword, flag))
        self.model = model.to(device).eval()
        self.batch_size = batch_size

    def embed(self, texts):
        texts = list(texts)
        with torch.no_grad():
            vectors = self.model.encode(texts or [''], batch_size=self.batch_size, convert_to_tensor=True,
                                        normalize_embeddings=True, show_progress_bar=False)
        return vectors.float().cpu()[:len(texts)]  # no texts: [0, D]

    def token_count(self, text):
        """Word-piece tokens of ``text``, without special tokens (and without truncation)."""
        return len(self.model.tokenizer(text, add_special_tokens=False)['input_ids'])


def load_sentence_model(name_or_path, device='cpu', source=None):
    """A ``SentenceTransformer`` from a folder, the Hugging Face cache, or (online) the Hub; offline,
    a model that is not here is known within seconds (``weights.require_network``)."""
    # imported here: sentence-transformers costs seconds to import, and most users of the modules
    # that hold an embedder (DepictQA without confidence for detailed answers) never build one
    from sentence_transformers import SentenceTransformer
    source = source or sentence_model_source()
    name = os.path.expanduser(str(name_or_path))
    if (isinstance(name_or_path, os.PathLike) or name.startswith(('/', '.'))) and not os.path.isdir(name):
        raise WeightsNotFoundError(f'{source.what} folder {name} does not exist. Give a folder saved by '
                                   f'SentenceTransformer.save as {source.takes()}, or a Hugging Face id such as '
                                   f'{DEFAULT_SENTENCE_MODEL}.')
    local = hf_model_available(name)
    if not local:
        require_network(f"{source.what} {name!r}", source, cache=hf_cache_path(name))
    try:
        return SentenceTransformer(name, device=device, local_files_only=local, trust_remote_code=False)
    except OSError as err:
        raise WeightsNotFoundError(f"{source.what} {name!r} could not be loaded ({err.__class__.__name__}: "
                                   f"{str(err).splitlines()[0]}). {source.how_to_get()} Then "
                                   f'{source.where_to_put()}.') from err
