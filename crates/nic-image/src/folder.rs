//! Folders of pictures, searched recursively: what `nic train`, `nic compare` and `nic probe`
//! take.

use std::path::{Path, PathBuf};

use crate::ImageError;

const EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp", "ppm", "pgm", "pnm", "pbm", "tga",
    "qoi",
];

/// Image files under `dir` and its subfolders, by extension, sorted so that the order (of a
/// training run, of a comparison) is reproducible.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, ImageError> {
    if dir.is_file() {
        return Err(ImageError::NotAFolder { path: dir.into() });
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| ImageError::Read {
            path: d.clone(),
            source,
        })?;
        for e in entries {
            let e = e.map_err(|source| ImageError::Read {
                path: d.clone(),
                source,
            })?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if is_image_name(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `path`'s extension is one of a picture format nic reads (any case).
pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
}
