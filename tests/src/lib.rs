//! Black-box tests of cairn live in `tests/tests/`.
