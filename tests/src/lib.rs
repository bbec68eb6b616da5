//! Shared helpers live in tests/tests; this lib is empty on purpose.
