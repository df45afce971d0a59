"""``FrozenBackboneIQAModel``: pyiqa's GeneralIQAModel for networks with large frozen parts.

Differences from the parent, each because the parent's behaviour costs us:
- "best" tracking keeps a copy of the trainable tensors, not a second full network (the parent
  builds one, which for CLIP or a VLM doubles memory and start-up time);
- checkpoints hold only parameters that train (frozen parameters are dropped, unless a subclass
  sets ``save_frozen_parameters``), and loading checks that every trainable parameter is in the file;
- the optimizer sees only trainable parameters, and frozen ones are counted in one log line
  instead of one warning each.
Family models subclass this and override ``feed_data``, ``optimize_parameters`` or
``nondist_validation`` as needed. Extra option keys a subclass reads go in ``option_keys``.
"""
from pyiqa.losses import build_loss
from pyiqa.models.general_iqa_model import GeneralIQAModel
from pyiqa.utils import get_root_logger

from pyiqa_uniqa.weights import (
    frozen_parameter_names,
    load_checkpoint,
    load_state_dict,
    trainable_state_dict,
    unwrap_params,
)


class TrainableSnapshot:
    """Stands in for ``net_best``: holds CPU copies of the trainable tensors only."""

    def __init__(self):
        self.tensors = {}

    def load_state_dict(self, state_dict):
        self.tensors = {k: v.detach().to('cpu', copy=True) for k, v in state_dict.items()}

    def state_dict(self):
        return dict(self.tensors)


class _StateDictView:
    """What pyiqa's ``save_network`` needs from a network: a ``state_dict()``."""

    def __init__(self, state_dict):
        self.tensors = state_dict

    def state_dict(self):
        return dict(self.tensors)


class FrozenBackboneIQAModel(GeneralIQAModel):
    option_keys = {}
    # True for models whose checkpoint must be the whole network, e.g. a backbone being pre-trained
    save_frozen_parameters = False

    def init_training_settings(self):
        self.net.train()
        train_opt = self.opt['train']
        self.net_best = TrainableSnapshot()
        self.cri_mos = build_loss(train_opt['mos_loss_opt']).to(self.device) if train_opt.get('mos_loss_opt') else None
        self.cri_metric = (build_loss(train_opt['metric_loss_opt']).to(self.device)
                           if train_opt.get('metric_loss_opt') else None)
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self):
        optim_opt = dict(self.opt['train']['optim'])
        optim_type = optim_opt.pop('type')
        named = [(n, p) for n, p in self.get_bare_model(self.net).named_parameters() if p.requires_grad]
        frozen = len(frozen_parameter_names(self.get_bare_model(self.net)))
        if frozen:
            get_root_logger().info(f'{frozen} frozen parameter tensors are not optimised.')
        groups = []
        # lr_<part> / weight_decay_<part>: a group for parameters whose name contains <part>
        for key in [k for k in optim_opt if k.startswith('lr_')]:
            part = key[len('lr_'):]
            groups.append({'params': [p for n, p in named if part in n], 'lr': optim_opt.pop(key),
                           'weight_decay': optim_opt.pop(f'weight_decay_{part}', 0.0)})
            named = [(n, p) for n, p in named if part not in n]
        groups.append({'params': [p for _, p in named]})
        groups = [g for g in groups if g['params']]
        if not groups:
            raise ValueError('The network has no trainable parameters.')
        self.optimizer = self.get_optimizer(optim_type, groups, **optim_opt)
        self.optimizers.append(self.optimizer)

    def copy_model(self, net_a, net_b):
        if isinstance(net_b, TrainableSnapshot):
            net_b.load_state_dict(trainable_state_dict(self.get_bare_model(net_a)))
        else:
            super().copy_model(net_a, net_b)

    def save_network(self, net, net_label, current_iter=None, param_key='params'):
        if isinstance(net, TrainableSnapshot):  # "best": its trainable tensors (frozen ones never change)
            state_dict = net.state_dict()
            if self.save_frozen_parameters:
                state_dict = {**self.get_bare_model(self.net).state_dict(), **state_dict}
        else:
            bare = self.get_bare_model(net)
            state_dict = bare.state_dict() if self.save_frozen_parameters else trainable_state_dict(bare)
        super().save_network(_StateDictView(state_dict), net_label, current_iter, param_key)

    def load_network(self, net, load_path, strict=True, param_key='params'):
        """Load a trainable-only checkpoint (safely). strict: every trainable tensor must be in the file
        and every key and shape must fit; otherwise the tensors that fit are loaded and the rest listed."""
        net = self.get_bare_model(net)
        key = param_key or 'params'
        if strict:
            state_dict = load_checkpoint(net, load_path, key=key, expect='trainable')
        else:
            state_dict = unwrap_params(load_state_dict(load_path), key=key)
            own = net.state_dict()
            fitting = {k: v for k, v in state_dict.items() if k in own and v.shape == own[k].shape}
            if len(fitting) < len(state_dict):
                get_root_logger().warning(f'strict_load is off: {len(state_dict) - len(fitting)} tensors of '
                                          f'{load_path} do not fit and are skipped: '
                                          f'{sorted(set(state_dict) - set(fitting))[:10]}')
            net.load_state_dict(fitting, strict=False)
        get_root_logger().info(f'Loaded {len(state_dict)} tensors into {net.__class__.__name__} from {load_path}.')
