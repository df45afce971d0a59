"""Score cache (resume) and the size-grouping collate."""
import torch

from pyiqa_uniqa.apps.bench.eval.dataset_scoring import ScoreCache, row_content
from pyiqa_uniqa.apps.scoring.batching import collate_by_size


def test_cache_is_reused_only_for_the_same_metric_rows_and_content(tmp_path):
    images = {name: tmp_path / name for name in ('a.png', 'b.png')}
    for path in images.values():
        path.write_bytes(b'pixels of ' + path.name.encode())
    identity = {'metric': 'psnr', 'metric_options': {}, 'rows': 'abc'}
    cache = ScoreCache(tmp_path / 'scores', 'psnr', 'photos', identity)
    cache.add([(0, 0.5, 31.0, 'a.png', row_content({'img_path': str(images['a.png'])})),
               (3, 0.25, 22.5, 'b.png', row_content({'img_path': str(images['b.png'])}))])
    with open(cache.csv_path, 'a') as f:
        f.write('4,0.1')  # a line cut short by an interrupted write
    assert ScoreCache(tmp_path / 'scores', 'psnr', 'photos', identity).rows == {0: (0.5, 31.0), 3: (0.25, 22.5)}
    images['b.png'].write_bytes(b'other pixels')  # replaced under the same name: scored again
    assert ScoreCache(tmp_path / 'scores', 'psnr', 'photos', identity).rows == {0: (0.5, 31.0)}
    changed = ScoreCache(tmp_path / 'scores', 'psnr', 'photos', {**identity, 'rows': 'abd'})
    assert changed.rows == {} and not changed.csv_path.exists()


def test_batches_are_grouped_by_image_size_and_failed_rows_are_kept_apart():
    def item(h, w, mos):
        return {'img': torch.zeros(3, h, w), 'mos_label': torch.tensor([mos]), 'img_path': f'{h}x{w}.png'}
    records = [{'index': 0, 'item': item(8, 8, 1.0)}, {'index': 1, 'item': item(8, 6, 2.0)},
               {'index': 2, 'error': 'OSError: truncated'}, {'index': 3, 'item': item(8, 8, 3.0)}]
    groups, failures = collate_by_size(records)
    assert failures == [(2, 'OSError: truncated')]
    assert [(g['index'], tuple(g['img'].shape)) for g in groups] == [([0, 3], (2, 3, 8, 8)), ([1], (1, 3, 8, 6))]
    assert groups[0]['mos_label'].reshape(-1).tolist() == [1.0, 3.0]
