"""The applications: every ``pyiqa-uniqa`` command, the demos, scoring, benchmarks.

The library (the model families, ``backbones``, ``data``, ``training``, ``weights``) never imports from
here; applications import the library. ``tests/test_layout.py`` enforces the direction.

``COMMANDS`` maps each sub-command to ('module', one-line help). The module has ``add_arguments(parser)``
and ``run(args)`` and is imported only when its command runs, so ``pyiqa-uniqa --help`` stays instant.
This file only declares names (torch-free).
"""

COMMANDS = {
    # the main job and the tools around every metric
    'demo': ('pyiqa_uniqa.apps.uniqa_demo.demo', 'the main job: UniQA on bundled photos offline; SRCC/PLCC by stage'),
    'score': ('pyiqa_uniqa.apps.scoring.command',
              'score a folder, glob, list or CSV of images with any metrics, to a table'),
    'rank': ('pyiqa_uniqa.apps.scoring.rank',
             'rank candidates of one scene (A/B comparisons or scores), and the models behind them'),
    'compare': ('pyiqa_uniqa.apps.scoring.compare',
                'compare folders of generators or methods: means, intervals, differences'),
    'train': ('pyiqa_uniqa.apps.train', "train with pyiqa's pipeline on an options YAML"),
    'bench-train': ('pyiqa_uniqa.apps.bench_train',
                    'time a training recipe with and without the validation feature cache'),
    'eval': ('pyiqa_uniqa.apps.bench.eval.command', 'SRCC/PLCC/KRCC/RMSE tables of metrics on IQA datasets'),
    'bench': ('pyiqa_uniqa.apps.bench.speed.command', 'latency, throughput and memory of metrics on the same images'),
    'protocol': ('pyiqa_uniqa.apps.protocol.command',
                 "a paper's protocol: a recipe on repeated splits, cross-dataset sets and settings, one table"),
    'app': ('pyiqa_uniqa.apps.app.command',
            'a web page (Score, Compare, Explore) and an HTTP API over any metrics, models loaded once'),
    # UniQA pre-training
    'caption': ('pyiqa_uniqa.apps.caption',
                'UniQA: MOS-level-guided quality/aesthetic captions with a vision-language model (resumable, sharded)'),
    'purify': ('pyiqa_uniqa.apps.purify',
               'UniQA: keep the top-k most relevant and informative human comments per image'),
    'export-backbone': ('pyiqa_uniqa.apps.export_backbone',
                        'UniQA: write a pre-trained CLIP checkpoint in the official OpenAI layout'),
    # ATTIQA, CLIP-AGIQA, DepictQA data
    'select-prompts': ('pyiqa_uniqa.apps.select_prompts',
                       'ATTIQA: pick the best CLIP prompt pair per attribute on a probe set'),
    'label': ('pyiqa_uniqa.apps.label',
              'ATTIQA: CLIP attribute pseudo-labels for a folder or CSV of images (resumable, sharded)'),
    'agiqa-meta-info': ('pyiqa_uniqa.apps.agiqa_meta_info',
                        'CLIP-AGIQA: pyiqa meta-info CSVs with the official 80/20 split (AGIQA-3K, AIGCIQA2023)'),
    'build-dq': ('pyiqa_uniqa.apps.build_dq', 'DepictQA: build brief samples (DQ-495K JSON) from an image folder'),
    # sharing trained models
    'export-model': ('pyiqa_uniqa.apps.export_model',
                     'write a trained run as a model folder (safetensors, config, recipe, model card) others load'),
    'push': ('pyiqa_uniqa.apps.push', 'upload a model folder to the Hugging Face Hub (hf-hub:ORG/REPO)'),
    'install-hook': ('pyiqa_uniqa.apps.install_hook', 'write the start-up hook (needed after pip install -e)'),
}
