"""``pyiqa-uniqa demo``: fine-tune a UniQA adapter offline and show what it changed.

1. builds the scikit-image photo-distortion dataset (``pyiqa_uniqa.data``) in the work folder;
2. scores its held-out test photos with the untrained adapter ("before");
3. trains the adapter through ``pyiqa-uniqa train`` on ``demo.yml`` (this file's sibling, also at
   ``options/uniqa/demo.yml``), which selects the best checkpoint on the validation photos;
4. scores the same test photos with that checkpoint ("after"), prints SRCC/PLCC for both and saves a
   scatter plot of MOS against score.

Offline the backbone is a random tiny CLIP, so the figures show the pipeline working, not UniQA's
quality; ``--backbone-weights UniQA_weight.pt`` runs the same job on the official ViT-B/16.
"""
import argparse
from pathlib import Path

DEMO_OPTIONS = Path(__file__).with_name('demo.yml')


def add_arguments(parser):
    parser.add_argument('--workdir', default='uniqa_demo',
                        help='folder for the dataset, experiment and plot (default: ./uniqa_demo)')
    parser.add_argument('--backbone-weights', default=None,
                        help='the official UniQA_weight.pt (ViT-B/16); default: a random tiny CLIP')
    parser.add_argument('--epochs', type=int, default=None, help='training epochs (default: demo.yml)')


def demo_options(workdir, backbone_weights=None, epochs=None):
    """demo.yml with its paths moved into ``workdir`` and the requested backbone and epochs."""
    import yaml

    opt = yaml.safe_load(DEMO_OPTIONS.read_text())
    for dataset in opt['datasets'].values():
        dataset['dataroot_target'] = str(Path(workdir) / 'datasets' / 'uniqa_demo_photos')
    if backbone_weights:
        opt['network'].update(model_name='ViT-B-16-quickgelu', backbone_weights=str(Path(backbone_weights).resolve()))
    if epochs:
        opt['train']['total_epoch'] = opt['train']['scheduler']['T_max'] = epochs
    return opt


def held_out_images(opt):
    """(images, MOS) of the photo dataset's test split, loaded once."""
    from pyiqa_uniqa.data.photo_dataset_types import PhotoDistortionNRDataset

    dataset = PhotoDistortionNRDataset({**opt['datasets']['val'], 'phase': 'test'})
    items = [dataset[i] for i in range(len(dataset))]
    return [item['img'] for item in items], [item['mos_label'].item() for item in items]


def evaluate(net, images, mos):
    """Scores, SRCC and PLCC of ``net`` (eval mode, test-time crops) on the held-out images."""
    import torch
    from scipy import stats
    from tqdm import tqdm

    net.eval()
    with torch.no_grad():
        scores = [net(image[None]).item() for image in tqdm(images, desc='scoring held-out images', leave=False)]
    return scores, stats.spearmanr(scores, mos)[0], stats.pearsonr(scores, mos)[0]


def save_scatter(path, mos, before, after):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, (title, (scores, srcc, plcc)) in zip(axes, (('before training', before), ('after training', after))):
        ax.scatter(scores, mos, s=12)
        ax.set(title=f'{title}: SRCC {srcc:.3f}, PLCC {plcc:.3f}', xlabel='UniQA score', ylabel='MOS')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args):
    import os

    import torch
    import yaml

    from pyiqa_uniqa.training import command as train_command
    from pyiqa_uniqa.uniqa.arch import UniQA

    if args.backbone_weights and not Path(args.backbone_weights).is_file():
        raise SystemExit(f'demo: --backbone-weights {args.backbone_weights}: no such file')
    if args.epochs is not None and args.epochs < 1:
        raise SystemExit('demo: --epochs must be >= 1')
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    opt = demo_options(workdir, args.backbone_weights, args.epochs)
    options_file = workdir / 'uniqa_demo.yml'
    options_file.write_text(yaml.safe_dump(opt, sort_keys=False))
    network = {k: v for k, v in opt['network'].items() if k != 'type'}
    print(f'UniQA demo in {workdir} with backbone '
          f'{network["backbone_weights"] if args.backbone_weights else "random tiny CLIP (offline)"}')

    images, mos = held_out_images(opt)  # builds the dataset on first use
    torch.manual_seed(opt['manual_seed'])
    before = evaluate(UniQA(**network), images, mos)

    here = os.getcwd()
    os.chdir(workdir)  # the train command roots experiments/ in the working directory
    try:
        train_command.run(argparse.Namespace(
            opt=str(options_file), launcher='none', auto_resume=False, debug=False, local_rank=0,
            force_yml=None, strict_options=False))
    finally:
        os.chdir(here)
    checkpoint = workdir / 'experiments' / opt['name'] / 'models' / 'net_best.pth'
    after = evaluate(UniQA(pretrained_model_path=str(checkpoint), **network), images, mos)

    plot = workdir / 'uniqa_demo_scatter.png'
    save_scatter(plot, mos, before, after)
    print(f'\nHeld-out test photos: {len(mos)} images (never seen in training or checkpoint selection)')
    print(f'  before training: SRCC {before[1]:.4f}  PLCC {before[2]:.4f}')
    print(f'  after training:  SRCC {after[1]:.4f}  PLCC {after[2]:.4f}')
    print(f'Adapter checkpoint: {checkpoint}\nScatter plot: {plot}')
    return 0
