"""decode_image: every odd image kind becomes RGB; every bad file becomes a one-line UnreadableImage."""

import numpy as np
import pytest
from PIL import Image

from mldrnet.data import UnreadableImage, decode_image
from mldrnet.data.decode import probe_image
from mldrnet.errors import BenchError
from tests.helpers.data_files import bomb_png, jpg, noise_jpg, text_as_jpg, truncated_jpg, zero_byte


def pixel(img, xy):
    return np.asarray(img)[xy[1], xy[0]].tolist()


def test_rgb_jpeg_round_trips(tmp_path):
    img = decode_image(jpg(tmp_path / "a.jpg", (200, 30, 30), size=(24, 16)))
    assert img.mode == "RGB" and img.size == (24, 16)
    assert np.allclose(pixel(img, (5, 5)), (200, 30, 30), atol=8)


def test_grayscale_becomes_rgb(tmp_path):
    Image.new("L", (16, 16), 90).save(tmp_path / "g.jpg")
    img = decode_image(tmp_path / "g.jpg")
    r, g, b = pixel(img, (3, 3))
    assert img.mode == "RGB" and r == g == b and abs(r - 90) <= 3


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red in CMYK
    img = decode_image(tmp_path / "c.jpg")
    r, g, b = pixel(img, (8, 8))
    assert img.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_palette_png_becomes_rgb(tmp_path):
    Image.new("RGB", (16, 16), (10, 120, 240)).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    img = decode_image(tmp_path / "p.png")
    assert img.mode == "RGB" and np.allclose(pixel(img, (2, 2)), (10, 120, 240), atol=4)


def test_palette_png_with_transparency_composites_on_white(tmp_path):
    p = Image.new("P", (16, 16), 0)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    p.putpixel((0, 0), 1)
    p.save(tmp_path / "t.png", transparency=0)
    img = decode_image(tmp_path / "t.png")
    assert pixel(img, (5, 5)) == [255, 255, 255] and pixel(img, (0, 0)) == [255, 0, 0]


def test_rgba_composites_on_white(tmp_path):
    arr = np.zeros((16, 16, 4), np.uint8)
    arr[:, :8] = (0, 0, 255, 255)  # opaque blue
    arr[:, 8:] = (0, 0, 0, 0)  # transparent black underneath
    arr[0, 15] = (0, 0, 0, 128)  # half-transparent black
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    img = decode_image(tmp_path / "a.png")
    assert pixel(img, (2, 5)) == [0, 0, 255]
    assert pixel(img, (12, 5)) == [255, 255, 255]
    assert all(120 <= c <= 135 for c in pixel(img, (15, 0)))


def test_16bit_grayscale_is_scaled_not_clipped(tmp_path):
    arr = np.zeros((8, 8), np.uint16)
    arr[:, :4] = 65535
    arr[:, 4:] = 32896  # 128 * 257
    Image.fromarray(arr).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    img = decode_image(tmp_path / "d.png")
    assert img.mode == "RGB" and pixel(img, (0, 0)) == [255] * 3 and pixel(img, (6, 0)) == [128] * 3


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)  # 20 wide, 10 high: left half red, right half blue
    arr[:, :10] = (255, 0, 0)
    arr[:, 10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    Image.fromarray(arr).save(tmp_path / "r.jpg", exif=exif, quality=95)
    img = decode_image(tmp_path / "r.jpg")
    assert img.size == (10, 20)  # portrait after the turn
    top, bottom = pixel(img, (5, 2)), pixel(img, (5, 17))
    assert top[0] > 200 and top[2] < 60  # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_min_size_decodes_large_jpeg_at_reduced_scale(tmp_path):
    path = noise_jpg(tmp_path / "big.jpg", size=(400, 300))
    assert decode_image(path).size == (400, 300)
    small = decode_image(path, min_size=100)
    assert small.size == (200, 150)  # 1/2 keeps both sides >= 100; 1/4 would not


@pytest.mark.parametrize(
    "make, reason",
    [
        (truncated_jpg, "truncated"),
        (zero_byte, "empty file"),
        (text_as_jpg, "not an image"),
        (bomb_png, "decompression bomb"),
        (lambda p: bomb_png(p, 10000, 10000), "decompression bomb"),  # only a warning in Pillow: still refused
        (lambda p: p, "file not found"),
    ],
)
def test_bad_files_raise_one_line_unreadable(tmp_path, make, reason):
    path = make(tmp_path / "bad.jpg")
    with pytest.raises(UnreadableImage) as info:
        decode_image(path)
    e = info.value
    assert isinstance(e, BenchError) and reason in e.reason and e.path == str(path)
    assert "\n" not in str(e) and str(e).startswith(str(path))


def test_probe_catches_header_problems_and_truncation(tmp_path):
    assert probe_image(noise_jpg(tmp_path / "ok.jpg")) is None
    assert "truncated" in probe_image(truncated_jpg(tmp_path / "t.jpg"))
    assert "empty" in probe_image(zero_byte(tmp_path / "z.jpg"))
    assert "not an image" in probe_image(text_as_jpg(tmp_path / "x.jpg"))
    assert "bomb" in probe_image(bomb_png(tmp_path / "b.png"))
