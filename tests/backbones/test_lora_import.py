"""peft through ``backbones.lora``: bitsandbytes' notice about 4-bit CPU kernels (which this package
never runs) is dropped; its other messages, and everyone else's, are not."""
import logging

from pyiqa_uniqa.backbones.lora import FOUR_BIT_KERNEL_LOGGER, LoraConfig


def test_only_the_four_bit_kernel_notice_is_dropped(caplog):
    logger = logging.getLogger(FOUR_BIT_KERNEL_LOGGER)
    with caplog.at_level(logging.WARNING):
        logger.warning('Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please ...', 'no kernels')
        logger.warning('some other bitsandbytes problem')
        logging.getLogger('elsewhere').warning('Failed to load CPU gemm_4bit_forward, said someone else')
    assert [r.getMessage() for r in caplog.records] == [
        'some other bitsandbytes problem', 'Failed to load CPU gemm_4bit_forward, said someone else']
    assert LoraConfig(r=4).r == 4  # peft itself is what the module hands out
