"""Install pyiqa-uniqa next to pyiqa.

Besides the package, a normal (non-editable) install puts two start-up files into site-packages:
``pyiqa_uniqa.pth`` (Python <= 3.17) and ``pyiqa_uniqa.start`` (PEP 829, Python >= 3.15). They
make pyiqa see our metric names with no import of ours (see ``pyiqa_uniqa/hook.py``). Editable
installs cannot ship them: run ``pyiqa-uniqa install-hook`` once after ``pip install -e .``.
"""
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

from pyiqa_uniqa.startup_files import STARTUP_FILES


class BuildWithStartupFiles(build_py):
    """Write the start-up files into build_lib so they land in site-packages (and in RECORD)."""

    def run(self):
        super().run()
        for name, text in STARTUP_FILES.items():
            with open(os.path.join(self.build_lib, name), 'w') as f:
                f.write(text)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [
            os.path.join(self.build_lib, name) for name in STARTUP_FILES]


GROUPS = ('archs', 'models', 'losses', 'datasets', 'metrics')

with open('README.md', encoding='utf-8') as f:
    long_description = f.read()

setup(
    name='pyiqa-uniqa',
    version='0.1.0',
    description='Vision-language image quality models (UniQA, ATTIQA, DepictQA-style) as a pyiqa plugin',
    long_description=long_description,
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['pyiqa_uniqa', 'pyiqa_uniqa.*']),
    # data files anywhere in the package (model configs, prompt tables, reference numbers)
    package_data={'pyiqa_uniqa': ['**/*.yml', '**/*.yaml', '**/*.json', '**/*.csv', '**/*.txt']},
    install_requires=[
        'pyiqa>=0.1.16,<0.1.17',  # the train command replaces pyiqa internals; tested on 0.1.16 only
        'torch>=2.6',  # torch.load(weights_only=True) is the default from 2.6
        'torchvision',
        'open_clip_torch>=2.24,<4',  # 4.x drops the OpenAI-layout builder
        'timm',
        'scipy',
        'pyyaml',
        'numpy',
        'pandas',
        'pillow',
        'simplejpeg',  # libjpeg-turbo with warnings as errors: finds a JPEG cut short behind a new end marker
        'tqdm',
        'safetensors',
        'huggingface_hub',  # model folders by Hub id (hf-hub:ORG/REPO) and `pyiqa-uniqa push`
        'kornia>=0.7',  # the distortion library
        'scikit-image',  # real photographs for the offline demo
        'scikit-learn',  # two more of them (the main job uses every photo installed packages ship)
        'transformers>=4.40',  # captioning and DepictQA-style models
        'peft>=0.10',  # LoRA
        'sentence-transformers>=3',  # the one sentence embedder (purification, DepictQA confidence)
        'matplotlib',  # benchmark plots
    ],
    extras_require={
        # the web page and API (`pyiqa-uniqa app`): Gradio is heavy, so it is optional
        'app': ['gradio>=6,<7', 'fastapi', 'uvicorn'],
        # the app's tests drive the page in Debian's chromium through selenium (.ci/run installs it)
        'test': ['pytest>=7', 'hypothesis>=6', 'gradio>=6,<7', 'fastapi', 'uvicorn', 'selenium>=4.10'],
    },
    entry_points={
        'console_scripts': ['pyiqa-uniqa = pyiqa_uniqa.apps.cli:main'],
        **{f'pyiqa.{g}': [f'pyiqa_uniqa = pyiqa_uniqa.plugin:register_{g}'] for g in GROUPS},
    },
    cmdclass={'build_py': BuildWithStartupFiles},
    license='MIT',
)
