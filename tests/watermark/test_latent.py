"""The latent watermark: marked noise stays standard normal, carries the payload, and comes back
by inverting the model (the embedded default model end to end; a tiny Stable Diffusion pipeline
through its latents, since a random-weight autoencoder cannot give its latents back)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trustgen import watermark
from trustgen.errors import WatermarkError
from trustgen.watermark import latent

KEY = bytes(range(16))
OTHER = bytes(range(1, 17))
SHAPE = (8, 32, 32)


def _noise(cid: str, seed: int, key: bytes = KEY, shape=SHAPE) -> torch.Tensor:
    return latent.marked_noise(shape, cid, key=key, generator=torch.Generator().manual_seed(seed))


def test_marked_noise_is_standard_normal_per_key():
    """KS test of every element of 40 draws against N(0, 1), for three keys; and no element's
    sign is the same in all draws of a key (the version-only coded bits are not sent)."""
    from scipy import stats

    for key in (KEY, OTHER, b"another watermark key"):
        draws = np.stack([_noise(watermark.new_content_id(), s, key).numpy().ravel()
                          for s in range(40)])
        assert stats.kstest(draws.ravel(), "norm").pvalue > 1e-3
        assert abs(draws.mean()) < 0.01 and abs(draws.std() - 1) < 0.01
        same_sign = np.all(draws > 0, axis=0) | np.all(draws < 0, axis=0)
        assert same_sign.sum() == 0


def test_noise_carries_the_payload_and_only_under_its_key():
    x = _noise("0123456789ab", 3)
    assert torch.equal(x, _noise("0123456789ab", 3))  # a seed gives the same latents
    assert not torch.equal(x, _noise("0123456789ab", 4))
    rng = np.random.default_rng(0)
    noisy = 0.3 * x.numpy() + 0.95 * rng.standard_normal(SHAPE)  # correlation about 0.3
    right, wrong = latent.read(noisy, [KEY, OTHER])
    assert right.content_id == "0123456789ab" and right.p_value < 1e-9
    assert wrong.p_value > 1e-3


def test_too_few_latent_elements_are_refused():
    with pytest.raises(WatermarkError, match="latent elements"):
        _noise("0123456789ab", 0, shape=(4, 8, 8))


@pytest.fixture(scope="module")
def default_pipe():
    from trustgen.generate import default_model_path
    from trustgen.watermark import inversion

    return inversion.load(str(default_model_path()))


@pytest.fixture(scope="module")
def generated(default_pipe, identity, tmp_path_factory):
    """One image from TrustedPipeline on the default model (25 steps), written to disk."""
    from trustgen import TrustedPipeline

    pipe = TrustedPipeline(default_pipe, identity=identity, register=False)
    (out,) = pipe(seed=11, num_inference_steps=25)
    path = tmp_path_factory.mktemp("latent") / "generated.png"
    path.write_bytes(out.data)
    return pipe, out, path


def test_default_model_round_trip(default_pipe, identity, generated):
    """TrustedPipeline marks the initial noise; detect_latent reads the same content id back from
    the 512 px image it writes (both marks), not under another key, and not from an unmarked
    generation."""
    pipe, out, path = generated
    assert out.provenance.latent_watermark
    image = Image.open(path)
    assert image.size == (512, 512)
    found = watermark.detect_latent(image, default_pipe, identity.watermark_key)
    assert found.detected and found.content_id == out.provenance.content_id
    assert watermark.detect(image, key=identity.watermark_key).content_id == found.content_id
    assert not watermark.detect_latent(image, default_pipe, OTHER).detected
    (plain,) = pipe.sample(seeds=[11], num_inference_steps=25)
    assert not watermark.detect_latent(plain, default_pipe, identity.watermark_key).detected


def test_cli_reads_both_marks(generated, tmp_path):
    import json

    from click.testing import CliRunner

    from trustgen.cli import cli
    from trustgen.generate import default_model_path

    _, out, path = generated
    result = CliRunner().invoke(cli, ["watermark", "detect", "--latent", "--model",
                                      str(default_model_path()), "--json", str(path)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["content_id"] == record["latent"]["content_id"] == out.provenance.content_id
    assert record["latent"]["ids_agree"] is True
    bad = CliRunner().invoke(cli, ["watermark", "detect", "--latent", "--model", str(tmp_path),
                                   str(path)])
    assert bad.exit_code == 2 and "model_index.json" in bad.output


def test_policy_names_latent_models_and_verify_reports_both(generated, identity, tmp_path):
    import jsonschema

    from trustgen import Policy, Verifier
    from trustgen.errors import PolicyError
    from trustgen.evidence import Verdict, verdict_schema
    from trustgen.generate import default_model_path

    assert Policy.load("default").gather.latent_models == ()  # off by default
    text = (Path(__file__).resolve().parents[2] / "policies" / "default.toml").read_text()
    policy = tmp_path / "latent.toml"
    policy.write_text(text.replace("latent_models = []",
                                   f"latent_models = [{str(default_model_path())!r}]"))
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("latent_models = []", f"latent_models = [{str(tmp_path)!r}]"))
    with pytest.raises(PolicyError, match="latent_models"):
        Policy.load(bad)
    _, out, path = generated
    verdict = Verifier(policy, identity=identity, detector=False, use_stores=False).verify(path)
    lat = verdict.evidence.watermark.latent
    assert lat.detected and lat.content_id == out.provenance.content_id and lat.ids_agree
    record = verdict.to_dict()
    jsonschema.Draft202012Validator(verdict_schema()).validate(record)
    assert Verdict.from_dict(record) == verdict


def test_default_model_mark_survives_jpeg_and_crop(default_pipe):
    from trustgen.watermark import inversion

    noise = _noise("00000000beef", 21)
    img = Image.fromarray(inversion.sample(default_pipe, noise, 25)).resize((512, 512))
    import io

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=50)
    jpeg = Image.open(buf)
    assert watermark.detect_latent(jpeg, default_pipe, KEY).content_id == "00000000beef"
    crop = img.crop((51, 51, 461, 461))  # the central 80%, not resized
    assert watermark.detect_latent(crop, default_pipe, KEY).content_id == "00000000beef"


def _tiny_sd(folder):
    """The tiny Stable Diffusion pipeline of the test suite with an epsilon-prediction DDIM
    scheduler (the suite's predicts the sample, which DDIM inversion cannot run back from
    the clean end), saved and loaded back."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from tiny_pipelines import _sd_components

    torch.manual_seed(0)
    parts = _sd_components(folder, 32)
    parts["scheduler"] = DDIMScheduler(prediction_type="epsilon", clip_sample=False,
                                       timestep_spacing="trailing")
    StableDiffusionPipeline(**parts).save_pretrained(folder)
    return StableDiffusionPipeline.from_pretrained(folder)


def test_tiny_text_to_image_round_trip_through_its_latents(tmp_path):
    from trustgen.watermark import inversion

    pipe = _tiny_sd(tmp_path / "sd")
    pipe.set_progress_bar_config(disable=True)
    assert latent.can_invert(pipe)
    noise = _noise("0000c0ffee00", 5, shape=(4, 32, 32))
    out = pipe(prompt="", latents=noise[None], num_inference_steps=4, guidance_scale=1.0,
               output_type="latent").images
    found = latent.read(inversion.invert(pipe, out, 4), [KEY, OTHER])
    assert found[0].content_id == "0000c0ffee00" and found[0].p_value < 1e-9
    assert found[1].p_value > 1e-3


def test_can_invert(tiny_unconditional, tiny_text_to_image, default_pipe):
    from diffusers import DiffusionPipeline

    assert latent.can_invert(default_pipe)
    assert not latent.can_invert(DiffusionPipeline.from_pretrained(tiny_unconditional))  # pixels
    assert not latent.can_invert(DiffusionPipeline.from_pretrained(tiny_text_to_image))  # x0-pred


def test_a_latent_mark_alone_labels_the_copy(generated, identity, tmp_path):
    """A stripped copy shrunk to 256 px and saved as JPEG 50 loses the post-hoc mark; a policy
    that inverts the default model still labels it an AI watermark, and says which mark read."""
    import io

    from trustgen import Verifier
    from trustgen.generate import default_model_path

    text = (Path(__file__).resolve().parents[2] / "policies" / "default.toml").read_text()
    policy = tmp_path / "latent.toml"
    policy.write_text(text.replace("latent_models = []",
                                   f"latent_models = [{str(default_model_path())!r}]"))
    _, out, path = generated
    buf = io.BytesIO()
    Image.open(path).convert("RGB").resize((256, 256)).save(buf, "JPEG", quality=50)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(buf.getvalue())
    verdict = Verifier(policy, identity=identity, detector=False, use_stores=False).verify(copy)
    wm = verdict.evidence.watermark
    assert not wm.detected and wm.latent.detected
    assert verdict.label == "ai-watermark"
    codes = [r.code for r in verdict.reasons]
    assert "watermark.latent-found" in codes and "watermark.absent" not in codes
    assert out.provenance.content_id in next(r.text for r in verdict.reasons
                                             if r.code == "watermark.latent-found")
    plain = Verifier("default", identity=identity, detector=False, use_stores=False).verify(copy)
    assert plain.label == "no-evidence"  # the shipped policies do not invert
