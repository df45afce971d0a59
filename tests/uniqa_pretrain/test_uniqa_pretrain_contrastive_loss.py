"""SymmetricContrastiveLoss: equals the CLIP formula, and two gloo processes equal one process."""
import math

import pytest
import torch
import torch.multiprocessing as mp

from pyiqa_uniqa.uniqa_pretrain.contrastive_loss import SymmetricContrastiveLoss

GLOBAL_BATCH, IMAGE_DIM, TEXT_DIM, EMBED = 8, 6, 5, 4


def direct_clip_loss(image_features, text_features, scale):
    """The symmetric InfoNCE written out term by term."""
    img = image_features / image_features.norm(dim=1, keepdim=True)
    txt = text_features / text_features.norm(dim=1, keepdim=True)
    n, total = img.shape[0], 0.0
    for i in range(n):
        row = torch.stack([scale * img[i] @ txt[j] for j in range(n)])
        column = torch.stack([scale * txt[i] @ img[j] for j in range(n)])
        total = total - torch.log_softmax(row, 0)[i] - torch.log_softmax(column, 0)[i]
    return total / (2 * n)


def test_loss_and_gradients_equal_the_direct_formula():
    torch.manual_seed(0)
    image = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)
    text = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)
    log_scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    loss = SymmetricContrastiveLoss()(image, text, log_scale.exp())
    grads = torch.autograd.grad(loss, (image, text, log_scale))
    expected = direct_clip_loss(image, text, log_scale.exp())
    expected_grads = torch.autograd.grad(expected, (image, text, log_scale))
    torch.testing.assert_close(loss, expected)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)
    # perfectly aligned pairs at a high temperature scale give a loss near zero, shuffled ones do not
    aligned = torch.eye(6, dtype=torch.float64)
    assert SymmetricContrastiveLoss()(aligned, aligned, torch.tensor(100.0)) < 1e-6
    assert SymmetricContrastiveLoss()(aligned, aligned.roll(1, 0), torch.tensor(100.0)) > 50


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match='same shape'):
        SymmetricContrastiveLoss()(torch.randn(4, 8), torch.randn(3, 8), torch.tensor(1.0))


def _towers_and_data():
    torch.manual_seed(1)
    image_tower = torch.nn.Linear(IMAGE_DIM, EMBED).double()
    text_tower = torch.nn.Linear(TEXT_DIM, EMBED).double()
    log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07), dtype=torch.float64))
    images = torch.randn(GLOBAL_BATCH, IMAGE_DIM, dtype=torch.float64)
    texts = torch.randn(GLOBAL_BATCH, TEXT_DIM, dtype=torch.float64)
    return image_tower, text_tower, log_scale, images, texts


def _loss_and_grads(images, texts):
    image_tower, text_tower, log_scale, _, _ = _towers_and_data()
    loss = SymmetricContrastiveLoss()(image_tower(images), text_tower(texts), log_scale.exp())
    loss.backward()
    params = [*image_tower.parameters(), *text_tower.parameters(), log_scale]
    return loss.detach(), [p.grad.clone() for p in params]


def _rank_worker(rank, world_size, init_file, result_file):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world_size)
    try:
        _, _, _, images, texts = _towers_and_data()
        local = slice(rank * GLOBAL_BATCH // world_size, (rank + 1) * GLOBAL_BATCH // world_size)
        loss, grads = _loss_and_grads(images[local], texts[local])
        for tensor in [loss, *grads]:  # what DDP does with gradients (and pyiqa with logged losses)
            dist.all_reduce(tensor)
            tensor /= world_size
        if rank == 0:
            torch.save({'loss': loss, 'grads': grads}, result_file)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_one_process_on_the_global_batch(tmp_path):
    _, _, _, images, texts = _towers_and_data()
    single_loss, single_grads = _loss_and_grads(images, texts)
    result_file = tmp_path / 'rank0.pt'
    mp.spawn(_rank_worker, args=(2, str(tmp_path / 'init'), str(result_file)), nprocs=2, join=True)
    distributed = torch.load(result_file, weights_only=True)
    torch.testing.assert_close(distributed['loss'], single_loss)
    for got, want in zip(distributed['grads'], single_grads):
        torch.testing.assert_close(got, want)
