//! Any folder of pictures, searched recursively.

use std::path::Path;

use nic_image::{ImageError, RgbImage, list_images};

use crate::DataError;

/// Decodes every image under `dir` to RGB8, on all cores.
pub fn load_folder(dir: &Path) -> Result<Vec<RgbImage>, DataError> {
    let files = list_images(dir).map_err(|e| match e {
        ImageError::Read { path, source } => DataError::Io { path, source },
        e => DataError::Invalid(e.to_string()),
    })?;
    if files.is_empty() {
        return Err(DataError::Invalid(format!(
            "{}: no images found",
            dir.display()
        )));
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| {
                            nic_image::load_rgb8(p)
                                .map(|l| l.image)
                                .map_err(|e| DataError::Invalid(e.to_string()))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(files.len());
        for h in handles {
            all.extend(h.join().expect("image decoding thread panicked")?);
        }
        Ok(all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_images_recursively_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        let img = RgbImage::from_pixel(4, 3, image::Rgb([1, 2, 3]));
        img.save(dir.path().join("b/c/z.png")).unwrap();
        img.save(dir.path().join("a.JPG")).unwrap_or(()); // jpeg encoder may be absent
        img.save(dir.path().join("b/y.bmp")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
        let files = list_images(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert!(names.ends_with(&["z.png", "y.bmp"]), "{names:?}"); // b/c/z.png sorts before b/y.bmp
        let imgs = load_folder(dir.path()).unwrap();
        assert_eq!(imgs.len(), files.len());
        assert_eq!(imgs[files.len() - 2], img);
    }

    #[test]
    fn empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_folder(dir.path()).is_err());
    }
}
