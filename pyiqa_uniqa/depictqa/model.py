"""``DepictQAModel``: instruction tuning of a DepictQA network with ``pyiqa-uniqa train``.

Only the projector (and abstractor) and the LoRA matrices train; the base LM and CLIP are frozen,
so ``FrozenBackboneIQAModel`` keeps them out of checkpoints: a checkpoint is the delta, under the
official key names. The loss is next-token cross-entropy on answer tokens only. Validation
decodes brief answers (bounded, greedy) and reports the ``val.metrics`` of
``pyiqa_uniqa.depictqa.evaluation`` (distortion-identification, A/B and level accuracy).

Options beyond pyiqa's: ``train.grad_clip`` (max gradient norm, official 1.0; 0 turns it off),
``train.grad_accumulation`` (micro-batches per optimizer step, official 16; default 1) and
``val.batch_size`` (records decoded together during validation, default 16; the val loader itself
must use batch 1 because images differ in size).
"""
import torch
from pyiqa.metrics import calculate_metric
from pyiqa.utils import get_root_logger

from pyiqa_uniqa.depictqa.dataset import batch_to_requests
from pyiqa_uniqa.depictqa.evaluation import answer_records
from pyiqa_uniqa.training.base_model import FrozenBackboneIQAModel


class DepictQAModel(FrozenBackboneIQAModel):
    option_keys = {'train': ('grad_clip', 'grad_accumulation'), 'val': ('batch_size',)}

    def feed_data(self, data):
        self.requests = batch_to_requests(data)

    def optimize_parameters(self, current_iter):
        net = self.get_bare_model(self.net)
        steps = self.opt['train'].get('grad_accumulation', 1)
        loss, token_accuracy = net.answer_loss(self.requests)
        (loss / steps).backward()
        if current_iter % steps == 0:  # pyiqa counts iterations from 1
            max_norm = self.opt['train'].get('grad_clip', 1.0)
            if max_norm:
                torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], max_norm)
            self.optimizer.step()
            self.optimizer.zero_grad()
        self.log_dict = {'l_answer': loss.item(), 'token_accuracy': token_accuracy.item()}

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        dataset_name = dataloader.dataset.opt['name']
        metrics = self.opt['val']['metrics']
        self._initialize_best_metric_results(dataset_name)
        predictions, answers, kinds = answer_records(self.get_bare_model(self.net), dataloader.dataset,
                                                     self.opt['val'].get('batch_size', 16))
        self.metric_results = {name: calculate_metric([predictions, answers, kinds], metric_opt)
                               for name, metric_opt in metrics.items()}
        if self._record_best(dataset_name, current_iter):
            self.copy_model(self.net, self.net_best)
            self.save_network(self.net_best, 'net_best')
        self._log_validation_metric_values(current_iter, dataset_name, tb_logger)
        for prediction, answer in list(zip(predictions, answers))[:3]:
            get_root_logger().info(f'  example: predicted {prediction!r}, expected {answer!r}')

    def _record_best(self, dataset_name, current_iter):
        """Best tracking as pyiqa's: by ``val.key_metric`` if set, else any metric improving."""
        names = [self.key_metric] if self.key_metric else list(self.metric_results)
        improved = [self._update_best_metric_result(dataset_name, name, self.metric_results[name], current_iter)
                    for name in names]
        if self.key_metric and improved[0]:
            for name, value in self.metric_results.items():
                self._update_metric_result(dataset_name, name, value, current_iter)
        return any(improved)
