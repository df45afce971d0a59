"""Offline data kit: seeded distortions (``distortions``), scikit-image photos (``photos``) and the
pyiqa-format datasets built from them (``photo_datasets``). Submodules are imported explicitly so
that importing this package stays free of torch."""
