"""Official-layout CLIP checkpoints load strictly and give open_clip's own features."""
import pytest
import torch

from pyiqa_uniqa.backbones import create_clip
from pyiqa_uniqa.weights import CheckpointMismatchError, CorruptWeightsError


def test_vitb16_matches_open_clip_loading(vitb16_checkpoint):
    import open_clip
    ours = create_clip('ViT-B-16-quickgelu', weights=vitb16_checkpoint)
    theirs = open_clip.create_model('ViT-B-16-quickgelu', pretrained=str(vitb16_checkpoint)).float().eval()
    image = torch.rand(2, 3, 224, 224)
    text = open_clip.get_tokenizer('ViT-B-16')(['a bad photo', 'a perfect photo'])
    with torch.no_grad():
        assert torch.allclose(ours.encode_image(image), theirs.encode_image(image), atol=1e-5)
        assert torch.allclose(ours.encode_text(text), theirs.encode_text(text), atol=1e-5)
    assert ours.logit_scale.item() == pytest.approx(theirs.logit_scale.item())
    # fp16 tensors of the file were widened, not left half precision
    assert ours.visual.conv1.weight.dtype == torch.float32


def _edited_copy(source, tmp_path, edit):
    state_dict = torch.load(source)
    edit(state_dict)
    torch.save(state_dict, tmp_path / 'edited.pt')
    return tmp_path / 'edited.pt'


def test_missing_key_is_named(tiny_clip_checkpoint, tmp_path):
    path = _edited_copy(tiny_clip_checkpoint, tmp_path, lambda sd: sd.pop('visual.proj'))
    with pytest.raises(CheckpointMismatchError, match=r'1 missing keys: visual\.proj'):
        create_clip('tiny-clip-quickgelu', weights=path)


def test_wrong_shape_is_named(tiny_clip_checkpoint, tmp_path):
    def widen(sd):
        sd['text_projection'] = torch.zeros(32, 64)
    path = _edited_copy(tiny_clip_checkpoint, tmp_path, widen)
    with pytest.raises(CheckpointMismatchError, match=r'text_projection: file \(32, 64\) vs model \(32, 32\)'):
        create_clip('tiny-clip-quickgelu', weights=path)


def test_other_geometry_is_reported(vitb16_checkpoint):
    with pytest.raises(CheckpointMismatchError, match='different CLIP geometry'):
        create_clip('tiny-clip-quickgelu', weights=vitb16_checkpoint)


def test_truncated_file(tiny_clip_checkpoint, tmp_path):
    data = tiny_clip_checkpoint.read_bytes()
    (tmp_path / 'cut.pt').write_bytes(data[: len(data) - 1000])
    with pytest.raises(CorruptWeightsError):
        create_clip('tiny-clip-quickgelu', weights=tmp_path / 'cut.pt')


def test_unknown_model_and_unreachable_tag():
    with pytest.raises(ValueError, match='Unknown CLIP model'):
        create_clip('ViT-Z-99')
    with pytest.raises(RuntimeError, match="'no-such-tag'"):
        create_clip('tiny-clip-quickgelu', weights='no-such-tag')


def test_no_random_init_warning_when_random_or_a_file_is_asked_for(tiny_clip_checkpoint, caplog):
    """open_clip's "initialized randomly" warning is noise when 'random' was asked for by name or a
    file follows; a random init the caller did not ask for still warns (open_clip's own call)."""
    import logging

    import open_clip
    with caplog.at_level(logging.WARNING):
        create_clip('tiny-clip-quickgelu', 'random')
        create_clip('tiny-clip-quickgelu', tiny_clip_checkpoint)
        assert not [r for r in caplog.records if 'No pretrained weights loaded' in r.getMessage()]
        open_clip.create_model('tiny-clip-quickgelu', pretrained=None)
    assert [r for r in caplog.records if 'No pretrained weights loaded' in r.getMessage()]
