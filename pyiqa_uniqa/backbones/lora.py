"""LoRA through peft: DepictQA's language model and UniQA's optional LoRA pre-training.

peft imports bitsandbytes (a dependency of pyiqa), whose CPU backend logs "Failed to load CPU
gemm_4bit_forward from kernels-community ..." on CPUs with AVX-512 BF16 when the optional ``kernels``
package is absent. Nothing in this package runs 4-bit layers, so that one message, which reads like
an error to a user, is dropped before peft is imported; every other bitsandbytes message is kept.
"""
import logging

FOUR_BIT_KERNEL_LOGGER = 'bitsandbytes.backends.cpu.ops'


class _WithoutFourBitKernelNotice(logging.Filter):
    def filter(self, record):
        return 'gemm_4bit_forward' not in record.getMessage()


logging.getLogger(FOUR_BIT_KERNEL_LOGGER).addFilter(_WithoutFourBitKernelNotice())

from peft import LoraConfig, get_peft_model, inject_adapter_in_model  # noqa: E402  (after the filter)

__all__ = ['LoraConfig', 'get_peft_model', 'inject_adapter_in_model']
