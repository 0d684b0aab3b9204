//! The official CIFAR-10 binary release: files of 10,000 records, each one label byte and
//! 3,072 pixel bytes (1,024 red, then green, then blue, rows top to bottom).

use std::io::Read;
use std::path::{Path, PathBuf};

use nic_image::RgbImage;

use crate::DataError;

const SIDE: usize = 32;
const RECORD: usize = 1 + 3 * SIDE * SIDE;
const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const TEST_FILE: &str = "test_batch.bin";

/// Decodes whole records; the labels are not needed for compression and are skipped.
pub fn read_cifar_records(bytes: &[u8]) -> Result<Vec<RgbImage>, DataError> {
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::Invalid(format!(
            "CIFAR-10 batch of {} bytes is not a whole number of {RECORD}-byte records",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(RECORD)
        .map(|rec| {
            let planes = &rec[1..];
            let plane = SIDE * SIDE;
            let mut raw = Vec::with_capacity(3 * plane);
            for i in 0..plane {
                raw.extend_from_slice(&[planes[i], planes[plane + i], planes[2 * plane + i]]);
            }
            RgbImage::from_raw(SIDE as u32, SIDE as u32, raw).expect("32x32x3 bytes")
        })
        .collect())
}

/// The folder holding the batch files: `path` itself or its `cifar-10-batches-bin` child.
pub(crate) fn find_batches_dir(path: &Path) -> Option<PathBuf> {
    [path.to_path_buf(), path.join("cifar-10-batches-bin")]
        .into_iter()
        .find(|d| d.join(TRAIN_FILES[0]).is_file() || d.join(TEST_FILE).is_file())
}

/// Reads the training batches present in `dir` and the test batch (if present).
pub fn read_cifar_dir(dir: &Path) -> Result<(Vec<RgbImage>, Vec<RgbImage>), DataError> {
    let read = |name: &str| -> Result<Option<Vec<RgbImage>>, DataError> {
        let p = dir.join(name);
        if !p.is_file() {
            return Ok(None);
        }
        let bytes = std::fs::read(&p).map_err(|source| DataError::Io {
            path: p.clone(),
            source,
        })?;
        read_cifar_records(&bytes).map(Some)
    };
    let mut train = Vec::new();
    for f in TRAIN_FILES {
        if let Some(imgs) = read(f)? {
            train.extend(imgs);
        }
    }
    let test = read(TEST_FILE)?.unwrap_or_default();
    if train.is_empty() {
        return Err(DataError::Invalid(format!(
            "{}: no data_batch_N.bin files",
            dir.display()
        )));
    }
    Ok((train, test))
}

/// Reads `cifar-10-binary.tar.gz` as downloaded, without extracting it to disk.
pub fn read_cifar_tar_gz(path: &Path) -> Result<(Vec<RgbImage>, Vec<RgbImage>), DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut batches: Vec<(String, Vec<RgbImage>)> = Vec::new();
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let name = entry
            .path()
            .map_err(io)?
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if TRAIN_FILES.contains(&name.as_str()) || name == TEST_FILE {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(io)?;
            batches.push((name, read_cifar_records(&bytes)?));
        }
    }
    batches.sort_by(|a, b| a.0.cmp(&b.0));
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (name, imgs) in batches {
        if name == TEST_FILE {
            test = imgs
        } else {
            train.extend(imgs)
        }
    }
    if train.is_empty() {
        return Err(DataError::Invalid(format!(
            "{}: no CIFAR-10 training batches inside",
            path.display()
        )));
    }
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record whose pixels encode (index, channel) so the layout can be checked.
    fn record(seed: u8) -> Vec<u8> {
        let mut r = vec![seed % 10];
        for c in 0..3u8 {
            for i in 0..1024usize {
                r.push(
                    seed.wrapping_mul(3)
                        .wrapping_add(c * 50)
                        .wrapping_add((i % 7) as u8),
                );
            }
        }
        r
    }

    #[test]
    fn records_decode_planes_to_pixels() {
        let bytes: Vec<u8> = (0..3).flat_map(record).collect();
        let imgs = read_cifar_records(&bytes).unwrap();
        assert_eq!(imgs.len(), 3);
        let p = imgs[2].get_pixel(1, 0).0; // index 1
        assert_eq!(p, [6 + 1, 56 + 1, 106 + 1]);
        assert!(read_cifar_records(&bytes[..100]).is_err());
    }

    #[test]
    fn folder_and_tarball_layouts_load() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("cifar-10-batches-bin");
        std::fs::create_dir(&bin).unwrap();
        let batch = |n: u8| -> Vec<u8> { (0..4).flat_map(|i| record(n * 10 + i)).collect() };
        std::fs::write(bin.join("data_batch_1.bin"), batch(1)).unwrap();
        std::fs::write(bin.join("data_batch_2.bin"), batch(2)).unwrap();
        std::fs::write(bin.join("test_batch.bin"), batch(3)).unwrap();

        let found = find_batches_dir(dir.path()).unwrap();
        let (train, test) = read_cifar_dir(&found).unwrap();
        assert_eq!((train.len(), test.len()), (8, 4));

        let tgz = dir.path().join("cifar-10-binary.tar.gz");
        let gz =
            flate2::write::GzEncoder::new(std::fs::File::create(&tgz).unwrap(), Default::default());
        let mut t = tar::Builder::new(gz);
        t.append_dir_all("cifar-10-batches-bin", &bin).unwrap();
        t.into_inner().unwrap().finish().unwrap();
        let (train2, test2) = read_cifar_tar_gz(&tgz).unwrap();
        assert_eq!(train2, train);
        assert_eq!(test2, test);
    }
}
