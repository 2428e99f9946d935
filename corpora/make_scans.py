"""Scanned-page images and PDFs of Sinhala text, for the OCR tests and bench/documents.py.

    python corpora/make_scans.py OUT_DIR [--topics N]

Pages are drawn with Pillow (its Raqm layout shapes Sinhala as a browser does) in the
Sinhala fonts Debian ships (fonts-noto-core: Noto Sans and Noto Serif Sinhala;
fonts-lklug-sinhala: LKLUG) at a chosen size and resolution, so OCR output can be
checked word for word against the text drawn. `skewed` and `noisy` make a page look
like a crooked or a dirty photocopy. `image_pdf` is a scan as a PDF (an image a page,
no text layer); `pdf_with_hidden_text` puts an invisible English text layer over a
page image, as OCR programs that know no Sinhala leave. The command writes one scanned
PDF a topic, `truth.json` mapping each to the passages it holds.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FONTS = {
    "Noto Sans Sinhala": "/usr/share/fonts/truetype/noto/NotoSansSinhala-Regular.ttf",
    "Noto Serif Sinhala": "/usr/share/fonts/truetype/noto/NotoSerifSinhala-Regular.ttf",
    "LKLUG": "/usr/share/fonts/truetype/sinhala/lklug.ttf",
}
A4_INCHES = (8.27, 11.69)


@dataclass
class Page:
    """A drawn page and the paragraphs on it, in order."""

    image: Any
    paragraphs: list[str]


def installed_fonts() -> dict[str, str]:
    """The fonts of FONTS installed here, by name."""
    return {name: path for name, path in FONTS.items() if Path(path).is_file()}


def render_pages(
    paragraphs: list[str], font: str, points: float = 12, dpi: int = 300
) -> list[Page]:
    """A4 pages with one-inch margins holding `paragraphs` in order, word-wrapped, lines
    1.5 apart and a blank line between paragraphs; `font` is a path to a TTF."""
    from PIL import Image, ImageDraw, ImageFont

    size = round(points * dpi / 72)
    face = ImageFont.truetype(font, size, layout_engine=ImageFont.Layout.RAQM)
    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    margin, line_height = dpi, round(size * 1.5)
    pages: list[Page] = []

    def new_page() -> Any:
        image = Image.new("L", (width, height), 255)
        pages.append(Page(image, []))
        return ImageDraw.Draw(image)

    draw = new_page()
    y = margin
    for paragraph in paragraphs:
        lines = _wrapped(paragraph, face, draw, width - 2 * margin)
        if y + line_height * len(lines) > height - margin and pages[-1].paragraphs:
            draw = new_page()
            y = margin
        for line in lines:
            draw.text((margin, y), line, font=face, fill=0)
            y += line_height
        pages[-1].paragraphs.append(paragraph)
        y += line_height
    return pages


def _wrapped(paragraph: str, face: Any, draw: Any, room: float) -> list[str]:
    lines, line = [], ""
    for word in paragraph.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=face) > room:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def skewed(image: Any, degrees: float = 1.5) -> Any:
    """The page turned by `degrees` (counter-clockwise), the corners filled white."""
    from PIL import Image

    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)


def noisy(image: Any, seed: int = 0, amount: float = 0.04) -> Any:
    """A dirty photocopy: grey speckles on `amount` of the pixels, a little blur, uneven
    ink, a few dark spots."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    pixels += rng.normal(0, 18, pixels.shape)
    speckles = rng.random(pixels.shape) < amount
    pixels[speckles] = rng.integers(0, 160, int(speckles.sum()))
    page = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
    draw = ImageDraw.Draw(page)
    spots = random.Random(seed)
    for _ in range(12):
        x, y = spots.randrange(page.width), spots.randrange(page.height)
        r = spots.randint(2, 6)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=spots.randint(0, 90))
    return page


def image_pdf(images: list[Any], target: Path, dpi: int = 300) -> None:
    """A scanned PDF: each image a page at `dpi`, no text layer."""
    first, *rest = [image.convert("L") for image in images]
    first.save(target, save_all=True, append_images=rest, resolution=dpi)


def pdf_with_hidden_text(image: Any, text: str, target: Path, dpi: int = 300) -> None:
    """A one-page PDF of `image` under an invisible Helvetica text layer saying `text`
    (text render mode 3, as OCR programs write it)."""
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="JPEG", quality=90)
    jpeg = buffer.getvalue()
    width, height = image.width * 72 / dpi, image.height * 72 / dpi
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = (
        f"q {width:.2f} 0 0 {height:.2f} 0 0 cm /Im1 Do Q\n"
        f"BT 3 Tr /F1 12 Tf 72 {height - 100:.2f} Td ({escaped}) Tj ET\n"
    ).encode("latin-1")
    stream = zlib.compress(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:.2f} {height:.2f}]"
            " /Resources << /XObject << /Im1 4 0 R >> /Font << /F1 5 0 R >> >>"
            " /Contents 6 0 R >>"
        ).encode(),
        (
            f"<< /Type /XObject /Subtype /Image /Width {image.width} /Height {image.height}"
            f" /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode"
            f" /Length {len(jpeg)} >>\nstream\n"
        ).encode()
        + jpeg
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode()
        + stream
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    target.write_bytes(bytes(out))


def main(argv: list[str] | None = None) -> None:
    from corpora.make_documents import topics

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--topics", type=int, default=3)
    args = parser.parse_args(argv)
    fonts = installed_fonts()
    if not fonts:
        sys.exit("no Sinhala font installed: apt install fonts-noto-core")
    font = next(iter(fonts.values()))
    args.out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, list[str]] = {}
    for topic, passages in topics(args.topics):
        pages = render_pages(passages, font)
        target = args.out / f"{topic}.pdf"
        image_pdf([page.image for page in pages], target)
        truth[target.name] = passages
    (args.out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1))
    print(f"wrote {len(truth)} scanned PDFs to {args.out}")


if __name__ == "__main__":
    main()
