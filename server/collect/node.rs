//! One node's whole snapshot: runs every collector and keeps what each could see.
