"""CLIP's evaluation preprocessing on tensors already in [0, 1] (normalisation stays with the model)."""
import torch.nn.functional as F


def resize_center_crop(images, size):
    """[B,3,H,W] -> [B,3,size,size]: short side to ``size`` (antialiased), then a centre crop."""
    h, w = images.shape[-2:]
    if (h, w) != (size, size):
        scale = size / min(h, w)
        new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
        images = F.interpolate(images, size=(new_h, new_w), mode='bicubic', antialias=True,
                               align_corners=False).clamp(0, 1)
        top, left = (new_h - size) // 2, (new_w - size) // 2
        images = images[..., top:top + size, left:left + size]
    return images
