"""TensorBoard event files (``events.out.tfevents.*``): the scalars of one tag.

A file is a sequence of TFRecords — ``uint64 length, uint32 masked CRC32C of the length, data, uint32 masked
CRC32C of the data`` — each holding a serialised ``Event`` protocol buffer. The framing is read here, with every
length checked against what is left of the file and both checksums verified (a truncated or corrupted file is
bad input, one line); the events are parsed by TensorBoard's own protocol buffers (``pip install
'condiag[tensorboard]'``). Scalars written by ``torch.utils.tensorboard`` and TF1 (``simple_value``) and by TF2's
``tf.summary.scalar`` (a 0-d tensor) are both read.
"""

from __future__ import annotations

import struct

from ..errors import InputError

LOSS_TAGS = ("loss", "train/loss", "train_loss", "loss/train", "training_loss", "train/loss_step", "epoch_loss")
"""Tags taken as the loss when ``tag`` is not given and the file has more than one (case-insensitive)."""


def _modules(label: str):
    try:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        from tensorboard.util import tensor_util
    except ImportError:
        raise InputError(label, "is a TensorBoard event file; reading it needs the tensorboard package",
                         "pip install 'condiag[tensorboard]', or export the scalar as CSV from TensorBoard") from None
    return event_pb2, masked_crc32c, tensor_util


def _records(data: bytes, label: str, masked_crc32c):
    """The data of each TFRecord, checked."""
    offset = 0
    total = len(data)
    while offset < total:
        if total - offset < 12:
            raise InputError(label, f"is truncated at byte {offset} (a record header needs 12 bytes)")
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        if masked_crc32c(header) != length_crc:
            raise InputError(label, f"is not a TensorBoard event file, or is corrupted (bad length checksum at byte {offset})")
        start = offset + 12
        if length > total - start - 4:
            raise InputError(label, f"is truncated: a record at byte {offset} declares {length} bytes, {max(total - start - 4, 0)} remain")
        payload = data[start:start + length]
        (data_crc,) = struct.unpack("<I", data[start + length:start + length + 4])
        if masked_crc32c(payload) != data_crc:
            raise InputError(label, f"is corrupted (bad data checksum in the record at byte {offset})")
        yield payload
        offset = start + length + 4


def read_scalars(data: bytes, label: str, tag: str | None):
    """(steps, values, the tag used) of one scalar tag in an event file's bytes."""
    event_pb2, masked_crc32c, tensor_util = _modules(label)
    series: dict[str, list[tuple[float, float]]] = {}
    for payload in _records(data, label, masked_crc32c):
        try:
            event = event_pb2.Event.FromString(payload)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends: the record is not an Event
            raise InputError(label, "holds a record that is not a TensorBoard event") from None
        if not event.HasField("summary"):
            continue
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                number = float(value.simple_value)
            elif kind == "tensor":
                try:
                    array = tensor_util.make_ndarray(value.tensor)
                except Exception:  # noqa: BLE001 - a tensor TensorBoard itself cannot decode
                    continue
                if array.size != 1 or array.dtype.kind not in "fiu":
                    continue
                number = float(array.reshape(()))
            else:
                continue
            series.setdefault(value.tag, []).append((float(event.step), number))
    if not series:
        raise InputError(label, "holds no scalar summaries")
    names = list(series)
    if tag is None:
        if len(names) == 1:
            tag = names[0]
        else:
            lowered = {n.lower(): n for n in names}
            tag = next((lowered[t] for t in LOSS_TAGS if t in lowered), None)
            if tag is None:
                raise InputError(label, f"has several scalar tags ({', '.join(names[:12])}); name the loss with --tag")
    elif tag not in series:
        raise InputError(label, f"has no scalar tag {tag!r} (it has: {', '.join(names[:12])})")
    points = series[tag]
    return [p[0] for p in points], [p[1] for p in points], tag
