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
pub use folder::load_folder;
pub use nic_image::list_images;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(dir: &Path, n: u32) {
        std::fs::create_dir_all(dir).unwrap();
        for i in 0..n {
            RgbImage::from_pixel(8, 8, image::Rgb([i as u8, 0, 0]))
                .save(dir.join(format!("{i:02}.png")))
                .unwrap();
        }
    }

    #[test]
    fn a_folder_holds_out_a_spread_validation_set() {
        let dir = tempfile::tempdir().unwrap();
        folder(dir.path(), 40);
        let s = open(dir.path(), None, 1000).unwrap();
        assert_eq!((s.train.len(), s.val.len()), (36, 4));
        let val_ids: Vec<u8> = s.val.iter().map(|i| i.get_pixel(0, 0).0[0]).collect();
        assert_eq!(val_ids, [0, 10, 20, 30]);
        assert!(
            s.train
                .iter()
                .all(|i| !val_ids.contains(&i.get_pixel(0, 0).0[0]))
        );
    }

    #[test]
    fn an_explicit_validation_folder_is_used_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        folder(&dir.path().join("train"), 5);
        folder(&dir.path().join("val"), 9);
        let s = open(&dir.path().join("train"), Some(&dir.path().join("val")), 3).unwrap();
        assert_eq!((s.train.len(), s.val.len()), (5, 3));
    }

    #[test]
    fn unusable_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.bin");
        std::fs::write(&file, b"x").unwrap();
        assert!(open(&file, None, 10).is_err());
        folder(&dir.path().join("one"), 1);
        assert!(open(&dir.path().join("one"), None, 10).is_err());
    }
}
