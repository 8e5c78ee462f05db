import numpy as np
import pytest
import torch

from depthlab.data import shapeset
from depthlab.data.figure import draw_grid
from depthlab.data.shapeset import (
    CHUNK_SIZE,
    CLASS_NAMES,
    CLASS_SHAPES,
    ShapesetDataset,
    generate,
    rasterise,
)
from depthlab.errors import DepthlabError


@pytest.fixture(scope="module")
def sample():
    """10,000 images in [0, 1] with their object masks."""
    return generate(10_000, seed=7, pixel_range=(0.0, 1.0), return_masks=True)


def test_shapes_and_types(sample):
    x, y, masks = sample
    assert x.shape == (10_000, 1, 32, 32) and x.dtype == torch.float32
    assert y.shape == (10_000,) and y.dtype == torch.int64
    assert masks.shape == (10_000, 2, 32, 32) and masks.dtype == torch.bool


def test_class_names_are_3_shapes_and_6_unordered_pairs():
    assert len(CLASS_NAMES) == len(set(CLASS_NAMES)) == 9
    assert CLASS_NAMES[:3] == ("triangle", "parallelogram", "ellipse")
    assert {tuple(sorted(s)) for s in CLASS_SHAPES[3:]} == {(a, b) for a in range(3) for b in range(a, 3)}


def test_every_class_between_5_and_20_percent(sample):
    frequency = torch.bincount(sample[1], minlength=9).double() / 10_000
    assert len(frequency) == 9
    assert ((frequency > 0.05) & (frequency < 0.20)).all(), frequency


def test_object_count_matches_the_class(sample):
    _, y, masks = sample
    has_second = masks[:, 1].flatten(1).any(1)
    pairs = torch.tensor([len(s) == 2 for s in CLASS_SHAPES])[y]
    assert torch.equal(has_second, pairs)
    assert masks[:, 0].flatten(1).sum(1).min() >= 1


def test_second_object_covers_at_most_half_of_the_first(sample):
    _, _, masks = sample
    covered = (masks[:, 0] & masks[:, 1]).flatten(1).sum(1)
    area = masks[:, 0].flatten(1).sum(1)
    assert (2 * covered <= area).all()
    assert (covered > 0).any()  # overlaps do happen, within the rule


def test_overlap_rule_holds_when_the_first_object_must_be_redrawn(monkeypatch):
    monkeypatch.setattr(shapeset, "MAX_REJECTIONS", 1)  # every rejected pair redraws both
    _, _, masks = generate(2000, seed=9, return_masks=True)
    covered = (masks[:, 0] & masks[:, 1]).flatten(1).sum(1)
    assert (2 * covered <= masks[:, 0].flatten(1).sum(1)).all()


def test_pixels_are_background_plus_one_grey_per_visible_object(sample):
    x, y, masks = sample
    for i in range(0, 10_000, 37):
        image, (first, second) = x[i, 0], masks[i]
        regions = [~(first | second), first & ~second] + ([second] if second.any() else [])
        for region in regions:
            values = image[region]
            assert len(values) > 0 and torch.all(values == values[0])
        assert len(torch.unique(image)) == len(regions)


def test_background_and_objects_sit_in_opposite_grey_ranges(sample):
    x, _, masks = sample
    background = x[:, 0][~masks.any(1)].view(-1)
    assert ((background <= 0.45) | (background >= 0.55)).all()
    objects = x[:, 0][masks[:, 0] & ~masks[:, 1]]
    assert ((objects <= 0.45) | (objects >= 0.55)).all()
    dark_background = x[:, 0, 0, 0] < 0.5  # a corner pixel is background, or else an object
    corner_is_background = ~masks[:, :, 0, 0].any(1)
    share = dark_background[corner_is_background].double().mean()
    assert 0.45 < share < 0.55  # half the images are inverted


@pytest.mark.parametrize("pixel_range", [(-1.0, 1.0), (0.0, 1.0)])
def test_pixels_within_the_range(pixel_range):
    x, _ = generate(500, seed=1, pixel_range=pixel_range)
    low, high = pixel_range
    assert x.min() >= low and x.max() <= high
    assert x.min() < low + 0.45 * (high - low) and x.max() > low + 0.55 * (high - low)


def test_same_seed_same_images_other_seed_other_images():
    x0, y0 = generate(200, seed=3)
    x1, y1 = generate(200, seed=3)
    x2, _ = generate(200, seed=4)
    assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert (x0 != x2).flatten(1).any(1).all()


def test_rasterise_counts_pixel_centres_exactly():
    square = np.array([[[8, 8], [24, 8], [24, 24], [8, 24]]])  # 16 × 16 pixels
    triangle = np.array([[[0, 0], [32, 0], [0, 32]]])  # centres with x + y <= 32, edge included
    assert rasterise(square).sum() == 256
    assert rasterise(triangle).sum() == 32 * 33 // 2
    assert rasterise(triangle)[0, 0, 0] and not rasterise(triangle)[0, 31, 31]


def test_resumed_stream_equals_uninterrupted_stream():
    data = ShapesetDataset()
    batch = 7  # 1000 / 7 is not an integer: batches straddle chunks
    uninterrupted = data.train_batches(batch, seed=5)
    head = [next(uninterrupted) for _ in range(150)]
    resumed = data.train_batches(batch, seed=5, start=140)
    for t in range(140, 150):
        x, y = next(resumed)
        assert x.shape == (batch, 1, 32, 32)
        assert torch.equal(x, head[t][0]) and torch.equal(y, head[t][1])
    crossing = head[142]  # images 994..1000: end of chunk 0 and start of chunk 1
    x0, _ = generate(CHUNK_SIZE, (5, 1, 0))  # training chunk k of run seed s: (s, 1, k)
    x1, _ = generate(CHUNK_SIZE, (5, 1, 1))
    assert torch.equal(crossing[0], torch.cat([x0[994:], x1[:1]]))


def test_validation_test_and_training_differ_and_are_lazy():
    data = ShapesetDataset(seed=2, validation_size=100, test_size=100)
    assert "validation" not in vars(data) and "test" not in vars(data)
    validation, test = data.validation, data.test
    train, _ = next(data.train_batches(100, seed=2))
    assert data.validation is validation  # cached
    assert validation[0].shape == (100, 1, 32, 32)
    for a, b in [(validation[0], test[0]), (validation[0], train), (test[0], train)]:
        assert (a != b).flatten(1).any(1).all()
    other = ShapesetDataset(seed=3, validation_size=100, test_size=100)
    assert not torch.equal(other.validation[0], validation[0])


def test_dataset_description():
    data = ShapesetDataset(pixel_range=(0, 1))
    assert (data.name, data.input_shape, data.num_classes, data.input_dim) == ("shapeset", (1, 32, 32), 9, 1024)
    x, _ = next(data.train_batches(10, seed=0))
    assert x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("call, message", [
    (lambda: generate(-1, 0), "number of images -1"),
    (lambda: generate(10, 0, pixel_range=(1, -1)), "pixel_range (1, -1)"),
    (lambda: generate(10, 0, pixel_range=(0, 1, 2)), "pixel_range (0, 1, 2)"),
    (lambda: ShapesetDataset(seed=-2), "seed -2"),
    (lambda: ShapesetDataset(test_size=-5), "test_size -5"),
    (lambda: next(ShapesetDataset().train_batches(0, seed=0)), "batch size 0"),
    (lambda: next(ShapesetDataset().train_batches(10, seed=0, start=-1)), "start update -1"),
])
def test_bad_values_raise_one_line_errors(call, message):
    with pytest.raises(DepthlabError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        call()
    assert "\n" not in str(error.value)


def test_draw_grid_writes_png_and_svg(tmp_path):
    x, y = generate(12, seed=0)
    png = draw_grid(x, y, CLASS_NAMES, tmp_path / "grid.png", rows=3, cols=5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    svg = draw_grid(x[:, 0].numpy(), y.numpy(), ["a"] * 9, tmp_path / "sub" / "grid.svg", rows=2, cols=2)
    assert "<svg" in svg.read_text()


def test_draw_grid_rejects_bad_input(tmp_path):
    x, y = generate(4, seed=0)
    with pytest.raises(DepthlabError, match="unknown figure format 'jpg'.*png, svg"):
        draw_grid(x, y, CLASS_NAMES, tmp_path / "grid.jpg")
    with pytest.raises(DepthlabError, match="label 8 is outside the 2 class names"):
        draw_grid(x, torch.tensor([0, 1, 8, 0]), ["a", "b"], tmp_path / "grid.png")
    assert not (tmp_path / "grid.png").exists()


# -- the fixed sets' cache -----------------------------------------------------------------
def test_fixed_sets_are_drawn_once_then_read_from_the_cache(isolated_roots, monkeypatch):
    drawn = []
    real = shapeset.generate
    monkeypatch.setattr(shapeset, "generate", lambda *a, **k: drawn.append(a) or real(*a, **k))
    first = ShapesetDataset(validation_size=12, test_size=5)
    x, y = first.validation
    assert len(drawn) == 1 and torch.equal(x, real(12, (0, 2, 0))[0]) and torch.equal(y, real(12, (0, 2, 0))[1])
    again = ShapesetDataset(validation_size=12, test_size=5).validation
    assert len(drawn) == 1 and torch.equal(again[0], x) and torch.equal(again[1], y)
    (cached,) = (isolated_roots / "cache" / "depthlab" / "shapeset").glob("*-stream2-n12-*.npz")
    assert shapeset.GENERATOR_DIGEST in cached.name


@pytest.mark.parametrize("content", [b"not an archive", b"PK\x03\x04broken"])
def test_a_damaged_cache_file_is_drawn_anew(isolated_roots, content):
    ShapesetDataset(validation_size=6).validation
    (cached,) = (isolated_roots / "cache" / "depthlab" / "shapeset").glob("*.npz")
    cached.write_bytes(content)
    x, _ = ShapesetDataset(validation_size=6).validation
    assert torch.equal(x, generate(6, (0, 2, 0))[0])
    assert np.load(cached)["x"].shape == (6, 1, 32, 32)  # written again


def test_a_cache_file_holding_pickles_or_other_shapes_is_not_used(isolated_roots):
    ShapesetDataset(validation_size=4).validation
    (cached,) = (isolated_roots / "cache" / "depthlab" / "shapeset").glob("*.npz")
    np.savez(cached, x=np.array([object()], dtype=object), y=np.zeros(4, np.int64))
    assert torch.equal(ShapesetDataset(validation_size=4).validation[0], generate(4, (0, 2, 0))[0])
    np.savez(cached, x=np.zeros((4, 1, 32, 32), np.float32), y=np.zeros(3, np.int64))
    assert torch.equal(ShapesetDataset(validation_size=4).validation[0], generate(4, (0, 2, 0))[0])


def test_an_unwritable_cache_still_gives_the_set(isolated_roots):
    (isolated_roots / "cache").write_text("a file where the cache folder would be")
    x, _ = ShapesetDataset(validation_size=3).validation
    assert torch.equal(x, generate(3, (0, 2, 0))[0])
