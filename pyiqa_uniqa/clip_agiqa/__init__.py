"""CLIP-AGIQA (Tang et al., ICPR 2024, arXiv 2408.15098): quality of AI-generated images from a
frozen CLIP with learnable quality-level prompts and a small regression head."""
