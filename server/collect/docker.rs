//! Docker engine facts through bollard.
