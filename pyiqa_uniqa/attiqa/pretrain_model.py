"""``ATTIQAPretrainModel``: attribute-aware pre-training with pyiqa's training loop.

The only change to ``FrozenBackboneIQAModel`` is what is predicted and compared: the five
attribute heads' scores [B, 5] against the pseudo-labels [B, 5] (``attributes`` from
``AttributeLabelDataset``). Everything else (``mos_loss_opt`` -> the loss, here
``AttributeRankingLoss``; validation, with cached features when the backbone is frozen; best
tracking, checkpoints) is the parent's, with
``calculate_attribute_srcc`` as the validation metric (mean SRCC over attributes).
"""
import torch

from pyiqa_uniqa.attiqa.attributes import ATTRIBUTES
from pyiqa_uniqa.training.base_model import FrozenBackboneIQAModel


class ATTIQAPretrainModel(FrozenBackboneIQAModel):

    def feed_data(self, data):
        super().feed_data(data)
        if 'attributes' not in data:
            raise KeyError("ATTIQAPretrainModel needs 'attributes' in each batch (use AttributeLabelDataset).")
        self.gt_mos = data['attributes'].to(self.device)

    def net_forward(self, net):
        _, attributes = net(self.img_input, return_attributes=True)
        return stack_attributes(attributes)

    def scores_from_features(self, bare, features):
        """Validation from cached backbone features (a frozen backbone): the attribute scores too."""
        _, attributes = bare.forward_from_features(features, return_attributes=True)
        return stack_attributes(attributes)


def stack_attributes(attributes):
    """{attribute: [B, 1]} -> [B, 5] in ``ATTRIBUTES`` order."""
    return torch.cat([attributes[name] for name in ATTRIBUTES], dim=1)
