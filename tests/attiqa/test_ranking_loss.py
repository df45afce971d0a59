"""AttributeRankingLoss against a direct double loop over pairs."""
import pytest
import torch

from pyiqa_uniqa.attiqa.ranking_loss import AttributeRankingLoss


def brute_force(pred, target, margin, tie, scale_by_gap):
    per_attribute = []
    for k in range(pred.shape[1]):
        terms = []
        for i in range(pred.shape[0]):
            for j in range(i + 1, pred.shape[0]):
                gap = float(target[i, k] - target[j, k])
                if abs(gap) <= tie:
                    continue
                m = margin * abs(gap) if scale_by_gap else margin
                sign = 1.0 if gap > 0 else -1.0
                terms.append(max(0.0, m - sign * float(pred[i, k] - pred[j, k])))
        if terms:
            per_attribute.append(sum(terms) / len(terms))
    return sum(per_attribute) / len(per_attribute) if per_attribute else 0.0


@pytest.mark.parametrize('scale_by_gap', [False, True])
def test_matches_brute_force_with_ties(scale_by_gap):
    generator = torch.Generator().manual_seed(0)
    pred = torch.randn(9, 5, generator=generator) * 0.2
    target = torch.rand(9, 5, generator=generator)
    target[3, 0] = target[4, 0] + 0.01  # a near tie, to be ignored
    target[:, 2] = 0.5  # an attribute with only ties: contributes nothing
    loss = AttributeRankingLoss(margin=0.1, tie_threshold=0.02, scale_margin_by_gap=scale_by_gap)(pred, target)
    assert loss.item() == pytest.approx(brute_force(pred, target, 0.1, 0.02, scale_by_gap), rel=1e-5)


def test_correct_order_beyond_margin_costs_nothing_and_wrong_order_does():
    target = torch.tensor([[0.1], [0.5], [0.9]])
    loss = AttributeRankingLoss(margin=0.1)
    assert loss(target * 10, target).item() == 0.0
    assert loss(-target, target).item() > 0.1


def test_all_ties_gives_zero_with_a_graph():
    pred = torch.randn(4, 5, requires_grad=True)
    loss = AttributeRankingLoss(tie_threshold=0.1)(pred, torch.full((4, 5), 0.3))
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None


def test_regression_mode_is_l1_and_bad_input_is_refused():
    pred, target = torch.rand(6, 5), torch.rand(6, 5)
    regression = AttributeRankingLoss(mode='regression', loss_weight=2.0)
    assert regression(pred, target).item() == pytest.approx(2 * (pred - target).abs().mean().item())
    with pytest.raises(ValueError, match='mode'):
        AttributeRankingLoss(mode='listwise')
    with pytest.raises(ValueError, match=r'\[B, K\]'):
        regression(pred, target[:, :4])


def test_registered_in_pyiqa_loss_registry():
    from pyiqa.losses import build_loss
    loss = build_loss({'type': 'AttributeRankingLoss', 'margin': 0.2})
    assert isinstance(loss, AttributeRankingLoss) and loss.margin == 0.2
