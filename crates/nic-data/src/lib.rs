//! Training and validation data.
//!
//! [`open`] recognises what a `--data` path holds: the official CIFAR-10 binary release (the
//! extracted folder or the `cifar-10-binary.tar.gz` itself) or any folder of pictures. Either
//! way the result is a [`Split`] of training and held-out validation images in memory, and
//! [`Sampler`] draws batches of random crops with flips in an order fixed by a seed, so a
//! resumed run sees exactly the batches the interrupted one would have.

mod cifar;
mod folder;
mod sampler;

use std::path::{Path, PathBuf};

use nic_image::RgbImage;
use thiserror::Error;

pub use cifar::{read_cifar_dir, read_cifar_records, read_cifar_tar_gz};
pub use folder::{list_images, load_folder};
pub use sampler::{Sampler, center_crops, epoch_order};

#[derive(Debug, Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Images for training and for validation.
pub struct Split {
    pub train: Vec<RgbImage>,
    pub val: Vec<RgbImage>,
    /// What was loaded, for the log ("CIFAR-10 binary: 50000 train, 10000 test").
    pub description: String,
}

/// Loads training data from `path` and a validation set of at most `val_size` images: the
/// CIFAR-10 test batch when the release is given, otherwise `val_path` if given, otherwise a
/// fixed, evenly spread subset held out of the training images.
pub fn open(path: &Path, val_path: Option<&Path>, val_size: usize) -> Result<Split, DataError> {
    let (mut train, mut val, mut description) = if is_tar_gz(path) {
        let (train, test) = read_cifar_tar_gz(path)?;
        (
            train,
            test,
            format!("CIFAR-10 binary archive {}", path.display()),
        )
    } else if let Some(dir) = cifar::find_batches_dir(path) {
        let (train, test) = read_cifar_dir(&dir)?;
        (
            train,
            test,
            format!("CIFAR-10 binary folder {}", dir.display()),
        )
    } else if path.is_dir() {
        (
            load_folder(path)?,
            Vec::new(),
            format!("image folder {}", path.display()),
        )
    } else {
        return Err(DataError::Invalid(format!(
            "{}: expected a folder of images, a CIFAR-10 binary folder or cifar-10-binary.tar.gz",
            path.display()
        )));
    };
    if let Some(vp) = val_path {
        val = load_folder(vp)?;
        description.push_str(&format!(", validation folder {}", vp.display()));
    }
    if val.is_empty() {
        // Hold out every k-th image so the validation set spans the whole collection.
        let want = val_size
            .min(train.len() / 10)
            .max(1)
            .min(train.len().saturating_sub(1));
        if want == 0 {
            return Err(DataError::Invalid(format!(
                "{}: need at least 2 images to train and validate",
                path.display()
            )));
        }
        let step = train.len() / want;
        let mut kept = Vec::with_capacity(train.len() - want);
        for (i, img) in train.into_iter().enumerate() {
            if i % step == 0 && val.len() < want {
                val.push(img);
            } else {
                kept.push(img);
            }
        }
        train = kept;
        description.push_str(", validation held out of it");
    } else if val.len() > val_size {
        let step = val.len() as f64 / val_size as f64;
        val = (0..val_size)
            .map(|i| val[(i as f64 * step) as usize].clone())
            .collect();
    }
    if train.is_empty() {
        return Err(DataError::Invalid(format!(
            "{}: no training images",
            path.display()
        )));
    }
    description.push_str(&format!(
        ": {} train, {} validation images",
        train.len(),
        val.len()
    ));
    Ok(Split {
        train,
        val,
        description,
    })
}

fn is_tar_gz(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    path.is_file() && (name.ends_with(".tar.gz") || name.ends_with(".tgz"))
}
