import io

import pytest
from PIL import Image


def jpeg(width=320, height=240, quality=60, seed=0) -> bytes:
    """A small JPEG like the exam page's (a gradient with some noise, so it is not trivially small)."""
    import random

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 255) // width, (y * 255) // height, rng.randrange(256))
                   for y in range(height) for x in range(width)])  # fmt: skip
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="session")
def small_jpeg() -> bytes:
    return jpeg()
