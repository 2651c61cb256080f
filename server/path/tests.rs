//! Path derivation on hand-made snapshots.
