"""Offline data kit and shared data pieces: the one image reader (``images``), seeded distortions
(``distortions``), scikit-image photos (``photos``), the pyiqa-format datasets built from them
(``photo_datasets``) and validation carved from a training split (``carved_split``).

This file only declares names (torch-free); submodules are imported explicitly.
"""

REGISTRY = {
    'datasets': {
        'PhotoDistortionNRDataset': 'pyiqa_uniqa.data.photo_datasets:PhotoDistortionNRDataset',
        'PhotoDistortionFRDataset': 'pyiqa_uniqa.data.photo_datasets:PhotoDistortionFRDataset',
        'CarvedSplitNRDataset': 'pyiqa_uniqa.data.carved_split:CarvedSplitNRDataset',
    },
}
