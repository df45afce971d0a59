"""How the processes of one ``score`` run share the work: alone, or as torchrun's ranks.

Under torchrun (``WORLD_SIZE`` > 1) the ranks join one process group over gloo (TCP: works
across nodes through torchrun's rendezvous, and needs no GPU: ``score`` only exchanges Python
objects) unless the caller already made one. Rank 0 decides what is left to do and broadcasts
it; each rank scores every ``world``-th item of it; rank 0 gathers the results and writes the
table. Alone, the same calls are no-ops.
"""
import os


class Alone:
    rank, world = 0, 1

    def broadcast(self, value):
        return value

    def gather(self, value):
        return [value]

    def all_agree(self, problem):
        """Every process's problem ('' for none); raises nothing, returns the list."""
        return [problem]

    def close(self):
        pass


class TorchrunRanks:
    """The default process group (created here over gloo when torchrun started us without one)."""

    def __init__(self):
        import torch.distributed as dist

        self._dist = dist
        self._owned = not dist.is_initialized()
        if self._owned:
            dist.init_process_group('gloo')
        # object collectives over gloo whatever the default backend (nccl needs a device per rank)
        self._group = dist.new_group(backend='gloo') if dist.get_backend() != 'gloo' else None
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def broadcast(self, value):
        box = [value]
        self._dist.broadcast_object_list(box, src=0, group=self._group)
        return box[0]

    def gather(self, value):
        """Every rank's ``value`` on rank 0 (others get None)."""
        out = [None] * self.world if self.rank == 0 else None
        self._dist.gather_object(value, out, dst=0, group=self._group)
        return out

    def all_agree(self, problem):
        out = [None] * self.world
        self._dist.all_gather_object(out, problem, group=self._group)
        return out

    def close(self):
        if self._owned:
            self._dist.destroy_process_group()


def current_processes():
    """``TorchrunRanks`` under torchrun (or an initialised process group), else ``Alone``."""
    import torch.distributed as dist

    if int(os.environ.get('WORLD_SIZE', '1')) > 1 or (dist.is_available() and dist.is_initialized()):
        return TorchrunRanks()
    return Alone()
