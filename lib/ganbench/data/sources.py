"""Random-access readers over every image container the pipeline accepts.

One interface, :class:`ImageSource`, reads an image folder, a zip (the StyleGAN
``dataset_tool`` layout or any zip of images), a tar archive and a COCO-GAN TFRecord
alike: ``len(src)``, ``src.names[i]``, ``src.read_image(i)`` -> (H, W, 3) uint8 and optional
``src.labels``. Conversions and the torch Dataset are written once on top of it.
"""

from __future__ import annotations

import abc
import fnmatch
import json
import os
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import PIL.Image

from ganbench.data import tfrecord_io
from ganbench.data.images import ConversionLog, decode_image
from ganbench.errors import DataError

IMAGE_EXTENSIONS = frozenset(ext for ext, fmt in PIL.Image.registered_extensions().items() if fmt in PIL.Image.OPEN)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


class ImageSource(abc.ABC):
    """An indexable, sorted collection of images with optional labels."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.names: list[str] = []
        self.labels: list | None = None
        self.conversions = ConversionLog()

    def __len__(self) -> int:
        return len(self.names)

    @abc.abstractmethod
    def read_image(self, index: int) -> np.ndarray:
        """The image at ``index`` as (H, W, 3) uint8 RGB."""

    def verify(self) -> None:
        """Check every stored checksum (zip member CRC-32s, TFRecord length and data CRCs); raise DataError naming
        the first bad member or record. Containers without checksums (folders, tar members) pass."""

    def _require_images(self) -> None:
        if not self.names:
            raise DataError(f"{self.path}: no images found")

    def _labels_from_json(self, text: str | None) -> None:
        """Read a dataset_tool ``dataset.json``: labels per file name, or null."""
        if text is None:
            return
        try:
            labels = json.loads(text).get("labels")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise DataError(f"{self.path}: dataset.json is not valid JSON ({exc})") from None
        if labels is None:
            return
        by_name = dict(labels)
        missing = [n for n in self.names if n not in by_name]
        if missing:
            raise DataError(f"{self.path}: dataset.json has no label for {missing[0]}")
        self.labels = [by_name[n] for n in self.names]


class EncodedImageSource(ImageSource):
    """A source whose members are encoded image files (PNG, JPEG, ...)."""

    @abc.abstractmethod
    def read_bytes(self, index: int) -> bytes:
        """The encoded file at ``index``."""

    def read_image(self, index):
        return decode_image(self.read_bytes(index), f"{self.path}:{self.names[index]}", self.conversions)


class FolderSource(EncodedImageSource):
    """Every image file under a folder, recursively, in sorted relative-path order."""

    def __init__(self, path):
        super().__init__(path)
        if not self.path.is_dir():
            raise DataError(f"{self.path}: folder not found")
        self.names = sorted(
            p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file() and is_image_name(p.name)
        )
        self._require_images()
        meta = self.path / "dataset.json"
        self._labels_from_json(meta.read_text() if meta.is_file() else None)

    def read_bytes(self, index):
        return (self.path / self.names[index]).read_bytes()


class ZipSource(EncodedImageSource):
    """Images inside a zip; ``pattern`` (fnmatch) selects members of a larger archive."""

    def __init__(self, path, pattern: str | None = None):
        super().__init__(path)
        self._zip: zipfile.ZipFile | None = None
        self._pid = None
        members = self._handle().namelist()
        self.names = sorted(n for n in members if is_image_name(n) and (pattern is None or fnmatch.fnmatch(n, pattern)))
        self._require_images()
        if "dataset.json" in members and pattern is None:
            self._labels_from_json(self._handle().read("dataset.json").decode())

    def _handle(self) -> zipfile.ZipFile:
        # A ZipFile must not be shared across fork(): DataLoader workers reopen it.
        if self._zip is None or self._pid != os.getpid():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except FileNotFoundError:
                raise DataError(f"{self.path}: file not found") from None
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(f"{self.path}: not a readable zip file ({exc})") from None
            self._pid = os.getpid()
        return self._zip

    def read_bytes(self, index):
        try:
            return self._handle().read(self.names[index])
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataError(f"{self.path}:{self.names[index]}: cannot read zip member ({exc})") from None

    def verify(self):
        z = self._handle()
        for info in z.infolist():
            try:
                with z.open(info) as f:
                    while f.read(1 << 20):
                        pass
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
                raise DataError(f"{self.path}:{info.filename}: corrupt zip member ({exc})") from None

    def __getstate__(self):
        return {**self.__dict__, "_zip": None, "_pid": None}


class TarSource(EncodedImageSource):
    """Images inside a tar archive (optionally compressed), e.g. Stanford Cars' ``cars_train.tgz``."""

    def __init__(self, path, pattern: str | None = None):
        super().__init__(path)
        try:
            with tarfile.open(self.path) as tar:
                self._members = {
                    m.name: m
                    for m in tar.getmembers()
                    if m.isfile() and is_image_name(m.name) and (pattern is None or fnmatch.fnmatch(m.name, pattern))
                }
        except FileNotFoundError:
            raise DataError(f"{self.path}: file not found") from None
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{self.path}: not a readable tar archive ({exc})") from None
        self.names = sorted(self._members)
        self._require_images()

    def read_bytes(self, index):
        try:
            with tarfile.open(self.path) as tar:
                return tar.extractfile(self._members[self.names[index]]).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{self.path}:{self.names[index]}: cannot read tar member ({exc})") from None


class TFRecordSource(ImageSource):
    """A COCO-GAN TFRecord: one ``img`` feature of raw uint8 HWC bytes per record.

    The format stores no shape; square RGB is assumed unless ``shape=(H, W)`` or the ``height`` is given
    (COCO-GAN's Matterport panoramas are 256x768: the width follows from the byte count). Every record must
    hold an image of one size (COCO-GAN reshapes them all to one shape): records of another payload length
    are a one-line DataError when the file is opened, not mid-training.
    """

    def __init__(self, path, shape: tuple[int, int] | None = None, height: int | None = None):
        super().__init__(path)
        self._offsets, lengths = tfrecord_io.index_records_with_lengths(self.path)
        self.names = [f"record{i:08d}" for i in range(len(self._offsets))]
        self._require_images()
        other = next((i for i, n in enumerate(lengths) if n != lengths[0]), None)
        if other is not None:
            sizes = [len(tfrecord_io.read_record(self.path, self._offsets[i], "img")) for i in (0, other)]
            raise DataError(
                f"{self.path}: the images differ in size (record 0 holds {sizes[0]} bytes, record {other} "
                f"{sizes[1]}); a COCO-GAN TFRecord stores no shape, so all its images must have one size"
            )
        if shape is None and height is not None:
            nbytes = len(tfrecord_io.read_record(self.path, self._offsets[0], "img"))
            if nbytes % (3 * height):
                raise DataError(f"{self.path}: {nbytes} bytes per record do not make RGB images {height} px high")
            shape = (height, nbytes // (3 * height))
        self._shape = shape

    def verify(self):
        # index_records (in __init__) checked the framing and every length CRC; this checks the data CRCs.
        for i, offset in enumerate(self._offsets):
            try:
                tfrecord_io.read_record(self.path, offset, "img")
            except DataError as exc:
                raise DataError(f"{exc} (record {i} of {len(self._offsets)})") from None

    def read_image(self, index):
        raw = tfrecord_io.read_record(self.path, self._offsets[index], "img")
        shape = self._shape or _square_rgb_shape(len(raw), f"{self.path}:{self.names[index]}")
        if len(raw) != shape[0] * shape[1] * 3:
            raise DataError(
                f"{self.path}:{self.names[index]}: {len(raw)} bytes do not make a {shape[0]}x{shape[1]}x3 image"
            )
        return np.frombuffer(raw, dtype=np.uint8).reshape(shape[0], shape[1], 3)


def _square_rgb_shape(nbytes: int, name: str) -> tuple[int, int]:
    side = int(round((nbytes / 3) ** 0.5))
    if side * side * 3 != nbytes:
        raise DataError(f"{name}: {nbytes} bytes is not a square RGB image; pass the shape explicitly")
    return side, side


def open_source(path: str | os.PathLike, pattern: str | None = None, height: int | None = None) -> ImageSource:
    """Open a folder, zip, tar or TFRecord by what ``path`` is; ``height`` tells a TFRecord (which stores no
    shape) how high its images are, for images that are not square."""
    path = Path(path)
    if path.is_dir():
        return FolderSource(path)
    if not path.exists():
        raise DataError(f"{path}: file or folder not found")
    name = path.name.lower()
    if name.endswith((".tfrecord", ".tfrecords")):
        return TFRecordSource(path, height=height)
    if name.endswith(".zip"):
        return ZipSource(path, pattern)
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return TarSource(path, pattern)
    raise DataError(f"{path}: unknown container; expected a folder, .zip, .tar(.gz) or .tfrecord")
