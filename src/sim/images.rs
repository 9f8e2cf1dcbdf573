//! The simulated account's image catalog (`GET /supportedimages`), from
//! assets/demo/supported-images.json: realistic entries, retired ones with their end-of-life dates.
//! Pool add refuses an image and node agent pair the catalog lacks, as the service does; a listed
//! image past its end of life is still accepted (recorded traffic from before it retired must
//! replay), so repool's preflight, not the simulator, is what refuses it.

use crate::batch::models::SupportedImage;
use serde_json::{Map, Value};
use std::sync::OnceLock;

const CATALOG: &str = include_str!("../../assets/demo/supported-images.json");

pub fn catalog() -> &'static [SupportedImage] {
    static IMAGES: OnceLock<Vec<SupportedImage>> = OnceLock::new();
    IMAGES.get_or_init(|| serde_json::from_str(CATALOG).expect("the embedded image catalog is valid"))
}

/// Err((image, reason)) when a marketplace image and its node agent are not in the catalog.
/// Custom images (`virtualMachineImageId`) are not checked.
pub fn check_offered(body: &Map<String, Value>) -> Result<(), (String, String)> {
    let Some(vm) = body.get("virtualMachineConfiguration") else { return Ok(()) };
    let (image, agent) = (&vm["imageReference"], vm["nodeAgentSKUId"].as_str().unwrap_or_default());
    if image.get("virtualMachineImageId").is_some() || catalog().iter().any(|c| c.offers(image, agent)) {
        return Ok(());
    }
    Err((format!("{image} with {agent}"), "The image and node agent SKU are not supported by the Batch service".into()))
}
