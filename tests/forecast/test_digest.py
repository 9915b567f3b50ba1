"""Digests of numpy arrays (``forecast.digest``), the keys caches keep results by."""

from __future__ import annotations

import hashlib

import numpy as np

from forecast.digest import add_array


def digest_of(*arrays, label: str = "") -> str:
    digest = hashlib.sha256()
    for array in arrays:
        add_array(digest, array, label)
    return digest.hexdigest()


def test_an_arrays_digest_is_sha256_of_its_label_dtype_shape_and_bytes():
    array = np.array([[1.5, 2.0], [3.0, 4.0]])
    expected = hashlib.sha256(b"days:<f8:(2, 2)" + array.tobytes()).hexdigest()
    assert digest_of(array, label="days") == expected


def test_the_same_bytes_as_another_type_or_shape_give_another_digest():
    days = np.array([1.0, 2.0, 3.0, 4.0])
    bits = days.view(np.int64)  # the same bytes, read as integers
    assert (days.tobytes(), days.shape) == (bits.tobytes(), bits.shape)
    assert digest_of(days) != digest_of(bits)
    assert digest_of(days) != digest_of(days.reshape(2, 2))


def test_a_strided_view_has_the_digest_of_its_copy_and_one_changed_value_another():
    grid = np.arange(12.0).reshape(3, 4)
    column = grid[:, 1]
    assert digest_of(column) == digest_of(column.copy())
    changed = column.copy()
    changed[2] += 1e-12
    assert digest_of(changed) != digest_of(column)


def test_an_array_of_objects_goes_in_by_its_repr_not_its_addresses():
    assert digest_of(slice(1, None)) == digest_of(slice(1, None))
    assert digest_of(slice(1, None)) != digest_of(slice(2, None))
