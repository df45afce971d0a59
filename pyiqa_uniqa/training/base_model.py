"""``FrozenBackboneIQAModel``: pyiqa's GeneralIQAModel for networks with large frozen parts.

Differences from the parent, each because the parent's behaviour costs us:
- "best" tracking keeps a copy of the trainable tensors, not a second full network (the parent
  builds one, which for CLIP or a VLM doubles memory and start-up time);
- checkpoints hold only parameters that train (frozen parameters are dropped, unless a subclass
  sets ``save_frozen_parameters``), and loading checks that every trainable parameter is in the file;
- the optimizer sees only trainable parameters, and frozen ones are counted in one log line
  instead of one warning each;
- the one training step of the package (below), for every family;
- validation reuses frozen features (below).

The training step
-----------------
``optimize_parameters`` runs ``compute_loss()`` (what the network predicts and how it is compared:
the one thing a family overrides; here pyiqa's ``mos_loss_opt`` + ``metric_loss_opt`` on
``net(img)``) and then, with these ``train`` options:

- ``accumulate_grad_batches`` (default 1): gradients of that many iterations are summed (each
  loss divided by the count) before the optimizer steps, at iterations that are multiples of
  it, so a resumed run steps where an uninterrupted one would. Under DistributedDataParallel the
  iterations that do not step skip the gradient all-reduce (``no_sync``). Learning-rate schedules
  still count iterations.
- ``grad_clip_norm`` (default off): the total norm of the trainable gradients is clipped to it
  before each step (after unscaling, with fp16).
- ``precision`` (``auto`` | ``fp32`` | ``fp16`` | ``bf16``, default ``auto``): the forward and loss
  run under autocast at that precision, the trainable parameters and optimizer stay fp32; fp16
  uses a gradient scaler. ``auto`` is bf16 on a GPU that has it, else fp16 there, and fp32 on CPU
  (``pyiqa_uniqa.backbones.precision``). Validation is not autocast: it scores at the network's
  own ``precision``, as the metric will.

Frozen-feature reuse
--------------------
When the network implements the frozen-feature protocol (``pyiqa_uniqa.backbones.frozen``) and its
features are frozen, validation keeps each input's frozen features after the first pass and runs
only the trainable part afterwards (``training/feature_cache.py`` says how entries are keyed so
they are never stale). The numbers are those of an uncached run. ``val.feature_cache``: ``auto``
(default: on where exact), ``true`` (on; an error where it cannot be) or ``false``;
``val.feature_cache_mib`` bounds it (default 1024). Its size is logged after each pass.

``train.feature_reuse_views: K`` (default 0, off) also reuses frozen features in training: K
augmented views per training image are encoded, then drawn from (``TrainingFeatureReuse``). That
changes what the adapter sees (K augmentations per image instead of a fresh one each epoch), so
it is an explicit choice; ``pyiqa-uniqa bench-train --feature-reuse K`` measures its effect. It
needs the frozen-feature protocol, pyiqa's default loss path and one process (a forward that
bypasses DistributedDataParallel would not synchronise gradients).

Family models subclass this and override ``compute_loss``, ``feed_data`` or
``nondist_validation`` as needed. Extra option keys a subclass reads go in its own
``option_keys`` (the option check merges them with these).
"""
import contextlib
from collections import OrderedDict
from pathlib import Path

import torch
from pyiqa.losses import build_loss
from pyiqa.metrics import calculate_metric
from pyiqa.models.general_iqa_model import GeneralIQAModel
from pyiqa.utils import get_root_logger

from pyiqa_uniqa.backbones.frozen import has_frozen_features
from pyiqa_uniqa.backbones.precision import DTYPES, training_precision
from pyiqa_uniqa.files import atomic_write
from pyiqa_uniqa.training.feature_cache import FrozenFeatureCache, TrainingFeatureReuse
from pyiqa_uniqa.training.option_check import OptionError
from pyiqa_uniqa.weights import (
    frozen_parameter_names,
    load_trained,
    read_state_dict,
    trainable_state_dict,
)

FEATURE_CACHE_CHOICES = ('auto', True, False)


class TrainableSnapshot:
    """Stands in for ``net_best``: holds CPU copies of the trainable tensors only."""

    def __init__(self):
        self.tensors = {}

    def load_state_dict(self, state_dict):
        self.tensors = {k: v.detach().to('cpu', copy=True) for k, v in state_dict.items()}

    def state_dict(self):
        return dict(self.tensors)


class FrozenBackboneIQAModel(GeneralIQAModel):
    option_keys = {'train': {'accumulate_grad_batches', 'grad_clip_norm', 'precision', 'feature_reuse_views'},
                   'val': {'feature_cache', 'feature_cache_mib'}}
    # True for models whose checkpoint must be the whole network, e.g. a backbone being pre-trained
    save_frozen_parameters = False

    def __init__(self, opt):
        val_opt = opt.get('val') or {}
        self.feature_cache_choice = val_opt.get('feature_cache', 'auto')
        if self.feature_cache_choice not in FEATURE_CACHE_CHOICES:
            raise OptionError(f'val.feature_cache must be auto, true or false, not {self.feature_cache_choice!r}.')
        self.feature_cache = FrozenFeatureCache(val_opt.get('feature_cache_mib', 1024))
        self.feature_reuse = None  # training only (init_training_settings)
        super().__init__(opt)

    def init_training_settings(self):
        self.net.train()
        train_opt = self.opt['train']
        self.net_best = TrainableSnapshot()
        self.cri_mos = build_loss(train_opt['mos_loss_opt']).to(self.device) if train_opt.get('mos_loss_opt') else None
        self.cri_metric = (build_loss(train_opt['metric_loss_opt']).to(self.device)
                           if train_opt.get('metric_loss_opt') else None)
        self.accumulate = train_opt.get('accumulate_grad_batches', 1)
        if not isinstance(self.accumulate, int) or isinstance(self.accumulate, bool) or self.accumulate < 1:
            raise OptionError(f'train.accumulate_grad_batches must be a whole number >= 1, not {self.accumulate!r}.')
        self.grad_clip_norm = train_opt.get('grad_clip_norm') or None
        self.precision = training_precision(train_opt.get('precision', 'auto'), self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == 'fp16')
        self.feature_reuse = self._training_feature_reuse(train_opt.get('feature_reuse_views') or 0)
        self.setup_optimizers()
        self.setup_schedulers()
        get_root_logger().info(f'Training step: precision {self.precision}, gradients of {self.accumulate} '
                               f'iteration(s) per optimizer step, clipping '
                               f'{self.grad_clip_norm if self.grad_clip_norm else "off"}.')

    def _training_feature_reuse(self, views):
        if not isinstance(views, int) or isinstance(views, bool) or views < 0:
            raise OptionError(f'train.feature_reuse_views must be a whole number >= 0, not {views!r}.')
        if not views:
            return None
        bare = self.get_bare_model(self.net)
        if self.opt['dist'] or not has_frozen_features(bare):
            raise OptionError(f'train.feature_reuse_views needs a network with frozen features '
                             f'({bare.__class__.__name__}{" has none" if not self.opt["dist"] else ""}) trained in '
                             'one process; remove the option.')
        return TrainingFeatureReuse(views, seed=self.opt.get('manual_seed') or 0)

    # -- the training step ------------------------------------------------------------------------

    def compute_loss(self):
        """The loss of the batch given to ``feed_data`` and the scalar tensors to log.

        pyiqa's: ``mos_loss_opt`` and ``metric_loss_opt`` on ``net(img)`` against the MOS, and the
        ``val.metrics`` of the training batch. Families override this.
        """
        if self.feature_reuse is not None and not self.use_ref:
            bare = self.get_bare_model(self.net)
            scores = self.scores_from_features(bare, self.feature_reuse.features(bare, self.img_input, self.img_paths))
        else:
            scores = self.net_forward(self.net)
        losses = OrderedDict()
        if self.cri_mos:
            losses['l_mos'] = self.cri_mos(scores, self.gt_mos)
        if self.cri_metric:
            losses['l_metric'] = self.cri_metric(scores, self.gt_mos)
        if not losses:
            raise OptionError('train needs mos_loss_opt or metric_loss_opt: the loss to train with.')
        logs = OrderedDict(losses)
        predicted = scores.detach().float().squeeze(1).cpu().numpy()
        target = self.gt_mos.float().squeeze(1).cpu().numpy()
        for name, metric_opt in (self.opt.get('val') or {}).get('metrics', {}).items():
            logs[f'train_metrics/{name}'] = torch.tensor(float(calculate_metric([predicted, target], metric_opt)))
        return sum(losses.values()), logs

    def optimize_parameters(self, current_iter):
        steps = current_iter % self.accumulate == 0  # pyiqa counts iterations from 1
        # DDP: all-reduce gradients only on the iteration that steps
        sync = contextlib.nullcontext() if steps or not hasattr(self.net, 'no_sync') else self.net.no_sync()
        with sync:
            with torch.autocast(self.device.type, dtype=DTYPES[self.precision], enabled=self.precision != 'fp32'):
                loss, logs = self.compute_loss()
            self.scaler.scale(loss / self.accumulate).backward()
        if steps:
            if self.grad_clip_norm:
                self.scaler.unscale_(self.optimizer)
                trainable = [p for group in self.optimizer.param_groups for p in group['params']]
                torch.nn.utils.clip_grad_norm_(trainable, self.grad_clip_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
        self.log_dict = self.reduce_loss_dict({name: value.detach().float() for name, value in logs.items()})

    def feed_data(self, data):
        super().feed_data(data)
        self.img_paths = data.get('img_path')

    # -- validation with frozen-feature reuse --------------------------------------------------------

    def feature_cache_applies(self, bare):
        """Whether validation of the current batch goes through the cache (network in eval mode)."""
        if self.feature_cache_choice is False:
            return False
        possible = has_frozen_features(bare) and not self.use_ref
        if self.feature_cache_choice is True and not possible:
            raise OptionError(f'val.feature_cache is true, but {bare.__class__.__name__} has no frozen features to '
                             'cache (its backbone trains, it scores pairs, or it does not implement frozen_features).')
        return possible

    def test(self):
        bare = self.get_bare_model(self.net)
        self.net.eval()
        with torch.no_grad():
            if self.feature_cache_applies(bare):
                features = self.feature_cache.features(bare, self.img_input)
                self.output_score = self.scores_from_features(bare, features)
            else:
                self.output_score = self.net_forward(self.net)
        self.net.train()

    def scores_from_features(self, bare, features):
        """What ``net_forward`` predicts, from cached frozen features (a family that predicts more overrides it)."""
        return bare.forward_from_features(features)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        if self.feature_cache.context is not None:
            get_root_logger().info(self.feature_cache.summary())
        if self.feature_reuse is not None:
            get_root_logger().info(self.feature_reuse.summary())

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
            raise OptionError('The network has no trainable parameters.')
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
        # pyiqa's layout (models/<label>_<iter>.pth holding {param_key: state dict}), written
        # atomically: a run killed while saving leaves the previous checkpoints, never a torn one
        name = f'{net_label}_{"latest" if current_iter == -1 else current_iter}' if current_iter is not None \
            else net_label
        state_dict = {k.removeprefix('module.'): v.detach().cpu() for k, v in state_dict.items()}
        with atomic_write(Path(self.opt['path']['models']) / f'{name}.pth', 'wb') as f:
            torch.save({param_key: state_dict}, f)

    def resume_training(self, resume_state):
        super().resume_training(resume_state)
        if resume_state.get('grad_scaler'):
            self.scaler.load_state_dict(resume_state['grad_scaler'])

    def save_training_state(self, epoch, current_iter):
        """pyiqa's training state (``training_states/<iter>.state``), written atomically, so that
        ``--auto_resume`` never meets a state torn by a kill."""
        if current_iter == -1:
            return
        state = {'epoch': epoch, 'iter': current_iter,
                 'optimizers': [optimizer.state_dict() for optimizer in self.optimizers],
                 'schedulers': [scheduler.state_dict() for scheduler in self.schedulers],
                 # fp16's loss scale, so a resumed run does not start its search for it again
                 'grad_scaler': self.scaler.state_dict()}
        with atomic_write(Path(self.opt['path']['training_states']) / f'{current_iter}.state', 'wb') as f:
            torch.save(state, f)

    def load_network(self, net, load_path, strict=True, param_key='params'):
        """Load a trainable-only checkpoint (safely). strict: every trainable tensor must be in the file
        and every key and shape must fit; otherwise the tensors that fit are loaded and the rest listed."""
        net = self.get_bare_model(net)
        key = param_key or 'params'
        if strict:
            state_dict = load_trained(net, load_path, key=key, expect='trainable')
        else:
            state_dict = read_state_dict(load_path, key=key)
            own = net.state_dict()
            fitting = {k: v for k, v in state_dict.items() if k in own and v.shape == own[k].shape}
            if len(fitting) < len(state_dict):
                get_root_logger().warning(f'strict_load is off: {len(state_dict) - len(fitting)} tensors of '
                                          f'{load_path} do not fit and are skipped: '
                                          f'{sorted(set(state_dict) - set(fitting))[:10]}')
            net.load_state_dict(fitting, strict=False)
        get_root_logger().info(f'Loaded {len(state_dict)} tensors into {net.__class__.__name__} from {load_path}.')
