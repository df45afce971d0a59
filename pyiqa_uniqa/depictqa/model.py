"""``DepictQAModel``: instruction tuning of a DepictQA network with ``pyiqa-uniqa train``.

Only the projector (and abstractor) and the LoRA matrices train; the base LM and CLIP are frozen,
so ``FrozenBackboneIQAModel`` keeps them out of checkpoints: a checkpoint is the delta, under the
official key names. The loss is next-token cross-entropy on answer tokens only. Validation
decodes brief answers (bounded, greedy) and reports the ``val.metrics`` of
``pyiqa_uniqa.depictqa.evaluation`` (distortion-identification, A/B and level accuracy).

The step is the base class's: the official recipe's gradient clipping and accumulation are
``train.grad_clip_norm: 1.0`` and ``train.accumulate_grad_batches: 16``, mixed precision is
``train.precision``. Option read here: ``val.batch_size`` (records decoded together during
validation, default 16; the val loader itself must use batch 1 because images differ in size).
"""
from collections import OrderedDict

from pyiqa.metrics import calculate_metric
from pyiqa.utils import get_root_logger

from pyiqa_uniqa.depictqa.dataset import batch_to_requests
from pyiqa_uniqa.depictqa.evaluation import answer_records
from pyiqa_uniqa.training.base_model import FrozenBackboneIQAModel


class DepictQAModel(FrozenBackboneIQAModel):
    option_keys = {'val': ('batch_size',)}

    def feed_data(self, data):
        self.requests = batch_to_requests(data)

    def compute_loss(self):
        loss, token_accuracy = self.get_bare_model(self.net).answer_loss(self.requests)
        return loss, OrderedDict(l_answer=loss, token_accuracy=token_accuracy)

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
