"""``pyiqa-uniqa push FOLDER ORG/REPO``: upload a model folder to the Hugging Face Hub.

The folder is checked first (a model folder of ``export-model``: its config, its safetensors), then
the network (``network.offline_reason``: ``HF_HUB_OFFLINE`` honoured, known within 2 s); offline the
command stops with one line. Online it creates the model repository if needed (``--private`` for a
private one) and uploads the folder with ``huggingface_hub`` (the token of ``hf auth login`` or
``$HF_TOKEN``). Others then load it as ``pretrained_model_path='hf-hub:ORG/REPO'``.
"""
from pathlib import Path

from pyiqa_uniqa.errors import UserError
from pyiqa_uniqa.model_folder import (
    CARD_FILE,
    CONFIG_FILE,
    RECIPE_FILE,
    REPO_ID,
    WEIGHTS_FILE,
    folder_weights,
    read_model_config,
)
from pyiqa_uniqa.network import offline_reason


class PushError(UserError, RuntimeError):
    """The folder could not be uploaded (offline, no access, no such organisation)."""


def add_arguments(parser):
    parser.add_argument('folder', help='a model folder written by `pyiqa-uniqa export-model`')
    parser.add_argument('repo', metavar='ORG/REPO', help='the Hub model repository (created if absent)')
    parser.add_argument('--private', action='store_true', help='create the repository private')
    parser.add_argument('--revision', help='the branch to push to (default: main)')


def run(args):
    url = push(args.folder, args.repo, private=args.private, revision=args.revision)
    print(f"Pushed {args.folder} to {url}. Load it with pretrained_model_path='hf-hub:{args.repo}'.")


def push(folder, repo, *, private=False, revision=None):
    """Check ``folder`` and the network, then upload it to ``repo``; returns the repository's URL."""
    if not REPO_ID.match(repo):
        raise PushError(f'{repo!r} is not a Hub repository id: write ORG/REPO.')
    config = read_model_config(folder)
    folder_weights(folder)
    reason = offline_reason()
    if reason:
        raise PushError(f'cannot push {folder} to {repo}: the Hub cannot be reached ({reason}). '
                        'Push again where it can.')
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError
    folder = Path(folder)
    card = (folder / CARD_FILE).read_text(encoding='utf-8')
    # the card's examples then name the repository they live in
    files = [CommitOperationAdd(name, str(folder / name)) for name in (CONFIG_FILE, WEIGHTS_FILE, RECIPE_FILE)
             if (folder / name).is_file()]
    files.append(CommitOperationAdd(CARD_FILE, card.replace('hf-hub:ORG/REPO', f'hf-hub:{repo}').encode()))
    api = HfApi()
    try:
        url = api.create_repo(repo, repo_type='model', private=private, exist_ok=True)
        api.create_commit(repo, files, commit_message=f'{config.metric}: pyiqa-uniqa export-model', revision=revision)
    except HfHubHTTPError as err:
        raise PushError(f'cannot push {folder} to {repo}: {str(err).splitlines()[0]}') from err
    return str(url)
