"""COCO-GAN's TFRecord format: one ``tf.train.Example`` per image, feature ``img`` = raw uint8 HWC bytes.

Records are written with the ``tfrecord`` package. Reading frames records ourselves because
the package's reader skips the CRCs: a corrupt record must be reported, not decoded into a
garbage image.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Iterable

import numpy as np
from google.protobuf.message import DecodeError
from tfrecord import example_pb2
from tfrecord.writer import TFRecordWriter

from ganbench.errors import DataError
from ganbench.fileio import atomic_path

FEATURE = "img"
_HEADER = 12  # uint64 length + masked crc32c of the length
_FOOTER = 4  # masked crc32c of the payload


def write_tfrecord(images: Iterable[np.ndarray], dest: str | os.PathLike) -> int:
    """Write (H, W, 3) uint8 images to ``dest`` atomically, in the given order; return the count."""
    count = 0
    with atomic_path(dest) as tmp:
        writer = TFRecordWriter(str(tmp))
        try:
            for image in images:
                writer.write({FEATURE: (np.ascontiguousarray(image, dtype=np.uint8).tobytes(), "byte")})
                count += 1
        finally:
            writer.close()
    return count


def index_records(path: str | os.PathLike) -> list[int]:
    """Byte offsets of every record, checking the framing and the length CRCs."""
    return index_records_with_lengths(path)[0]


def index_records_with_lengths(path: str | os.PathLike) -> tuple[list[int], list[int]]:
    """Byte offsets and payload lengths of every record, checking the framing and the length CRCs."""
    path = Path(path)
    offsets, lengths = [], []
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            pos = 0
            while pos < size:
                header = f.read(_HEADER)
                if len(header) < _HEADER:
                    raise DataError(f"{path}: truncated record header at byte {pos}")
                length_bytes, crc = header[:8], header[8:]
                if TFRecordWriter.masked_crc(length_bytes) != crc:
                    raise DataError(f"{path}: bad length CRC in record {len(offsets)} at byte {pos}")
                (length,) = struct.unpack("<Q", length_bytes)
                end = pos + _HEADER + length + _FOOTER
                if end > size:
                    raise DataError(f"{path}: record {len(offsets)} at byte {pos} is truncated")
                offsets.append(pos)
                lengths.append(length)
                pos = end
                f.seek(pos)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    return offsets, lengths


def read_record(path: str | os.PathLike, offset: int, feature: str = FEATURE) -> bytes:
    """The bytes of ``feature`` in the record at ``offset``, after checking its payload CRC."""
    with open(path, "rb") as f:
        f.seek(offset)
        (length,) = struct.unpack("<Q", f.read(8))
        f.seek(4, os.SEEK_CUR)
        payload = f.read(length)
        crc = f.read(_FOOTER)
    if TFRecordWriter.masked_crc(payload) != crc:
        raise DataError(f"{path}: bad data CRC in the record at byte {offset}")
    example = example_pb2.Example()
    try:
        example.ParseFromString(payload)
    except DecodeError as exc:
        raise DataError(f"{path}: the record at byte {offset} is not a tf.train.Example ({exc})") from None
    if feature not in example.features.feature:
        raise DataError(f"{path}: record at byte {offset} has no feature {feature!r}")
    values = example.features.feature[feature].bytes_list.value
    if len(values) != 1:
        raise DataError(f"{path}: feature {feature!r} of the record at byte {offset} is not one bytes value")
    return values[0]
