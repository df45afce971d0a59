"""Per-image CPU latency of ``uniqa`` against its floor and against the official per-call prompts.

    python -m pyiqa_uniqa.apps.uniqa_demo.latency [--size 512x384] [--repeats 7] [--threads 4]

Three timings on the same image, median of ``--repeats`` runs after one warm-up, all in eval
mode with gradients off:

- ``floor``: open_clip ``encode_image`` alone on the same ten 224 crops, batched: the work no
  UniQA implementation can avoid;
- ``uniqa``: the full metric (``UniQA.forward``: crops, encoder, adapter, cached prompts, levels);
- ``official-style``: the same plus re-encoding the 20 ensemble prompts on every call, as the
  official code does (it has no text cache).

Speed does not depend on the weights, so a random ViT-B/16 stands in for ``UniQA_weight.pt``.
"""
import argparse
import statistics
import time

import torch

from pyiqa_uniqa.uniqa.arch import RANDOM_BACKBONE, UniQA
from pyiqa_uniqa.uniqa.crops import view_crops


def median_seconds(fn, repeats):
    fn()  # warm-up: allocator, kernels, the prompt cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(model_name='ViT-B-16-quickgelu', size=(384, 512), repeats=7):
    net = UniQA(backbone_weights=RANDOM_BACKBONE, model_name=model_name, prompt_set='ensemble',
                use_adapter=False).eval()
    image = torch.rand(1, 3, *size)
    crops, _ = view_crops(image, net.crop_size, net.test_crops, net.num_crops, net.crop_seed)
    pixels = net.clip_input.normalize(crops)
    tokens = net.tokenizer(list(net.prompts))

    def official_style():
        net.clip.encode_text(tokens)
        net(image)

    with torch.no_grad():
        return {
            'floor': median_seconds(lambda: net.clip.encode_image(pixels), repeats),
            'uniqa': median_seconds(lambda: net(image), repeats),
            'official-style': median_seconds(official_style, repeats),
            'crops': len(crops),
        }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model-name', default='ViT-B-16-quickgelu')
    parser.add_argument('--size', default='512x384', help='WIDTHxHEIGHT of the test image')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch decides)')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split('x'))
    result = measure(args.model_name, (height, width), args.repeats)
    floor = result['floor']
    print(f'{args.model_name}, {width}x{height} image, {result["crops"]} crops of 224, '
          f'{torch.get_num_threads()} CPU threads, median of {args.repeats}:')
    for name in ('floor', 'uniqa', 'official-style'):
        print(f'  {name:<15} {result[name] * 1000:8.1f} ms/image   {result[name] / floor:5.2f}x floor')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
