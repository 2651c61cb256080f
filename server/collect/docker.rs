//! Docker engine facts through bollard.

use crate::snapshot::EngineFacts;

use super::CollectError;

/// How to reach the engine.
pub fn connect(_url: Option<&str>) -> Result<bollard::Docker, CollectError> {
    Err(CollectError::Engine("not implemented yet".into()))
}

/// Everything the engine reports about networking.
pub async fn collect(_docker: &bollard::Docker) -> Result<EngineFacts, CollectError> {
    Err(CollectError::Engine("not implemented yet".into()))
}
