//! An image's history (`docker history`): the steps of its config's `history`, each
//! matched to the layer it made, as Docker's daemon matches them.

use crate::{ImageError, ImageRecord, Store};

/// One step of an image's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The image id for the newest step; `None` for the others (Docker's `<missing>`:
    /// no local image is known to end at that step).
    pub id: Option<String>,
    /// When the step ran (RFC 3339, as the image says).
    pub created: Option<String>,
    /// The command of the step.
    pub created_by: String,
    /// The step's comment.
    pub comment: String,
    /// Bytes of the layer the step made (uncompressed), 0 for a step without one.
    pub size: u64,
}

/// The steps of `image`, newest first.
pub fn history(store: &Store, image: &ImageRecord) -> Result<Vec<Step>, ImageError> {
    let config = store.config(image)?;
    let mut layers = image.layers.iter();
    let mut steps = Vec::new();
    for entry in config.history().iter().flatten() {
        let size = if entry.empty_layer().unwrap_or(false) {
            0
        } else {
            // The layers are matched to the steps in order, bottom first; an image whose
            // history names more layers than it has is wrong, and said to be.
            let chain = layers.next().ok_or_else(|| {
                ImageError::Invalid(format!("image {}: more non-empty steps in its history than layers", image.id))
            })?;
            store.layers().info(chain)?.size
        };
        steps.push(Step {
            id: None,
            created: entry.created().clone(),
            created_by: entry.created_by().clone().unwrap_or_default(),
            comment: entry.comment().clone().unwrap_or_default(),
            size,
        });
    }
    steps.reverse();
    if let Some(top) = steps.first_mut() {
        top.id = Some(image.id.clone());
    }
    Ok(steps)
}
