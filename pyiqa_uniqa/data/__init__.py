"""Offline data kit and shared data pieces: the one image reader (``images``; ``pyiqa_reading``
brings its checks to pyiqa's own loader), seeded distortions
(``distortions``) and their rendering (``rendering``), scikit-image photos (``photos``), the
pyiqa-format datasets built from them (builders: ``photo_datasets``; pyiqa types:
``photo_dataset_types``) and validation carved from a training split (``carved_split``).

This file only declares names (torch-free); submodules are imported explicitly.
"""

REGISTRY = {
    'datasets': {
        'PhotoDistortionNRDataset': 'pyiqa_uniqa.data.photo_dataset_types:PhotoDistortionNRDataset',
        'PhotoDistortionFRDataset': 'pyiqa_uniqa.data.photo_dataset_types:PhotoDistortionFRDataset',
        'CarvedSplitNRDataset': 'pyiqa_uniqa.data.carved_split:CarvedSplitNRDataset',
    },
}
