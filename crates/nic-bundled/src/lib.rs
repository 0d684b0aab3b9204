//! The default model inside the binary, so that a `nic` installed anywhere (`cargo install`,
//! or the Python module from pip) can encode and decode with no checkout beside it.
//!
//! Model loading works on folders (a model is `model.json` plus `weights.bpk`, and a folder is
//! what `--model` names), so the embedded copy is unpacked once into the user's cache folder,
//! under a name that changes with its content, and used from there. A model folder found on
//! disk (`$NIC_MODEL_DIR`, or `models/default` of a checkout) still comes first.

use std::path::PathBuf;

use nic_codec::CodecError;

const MODEL_JSON: &[u8] = include_bytes!("../../../models/default/model.json");
const WEIGHTS: &[u8] = include_bytes!("../../../models/default/weights.bpk");

/// The default model's folder: one on disk ([`nic_codec::default_model_dir`]: the
/// environment, a checkout), else the built-in one.
pub fn default_model_dir() -> Result<PathBuf, CodecError> {
    nic_codec::default_model_dir().or_else(|_| built_in())
}

/// The folder of the embedded default model, unpacked on first use.
pub fn built_in() -> Result<PathBuf, CodecError> {
    let dir = cache_root()?
        .join("nic")
        .join("models")
        .join(format!("default-{:016x}", fnv1a(&[MODEL_JSON, WEIGHTS])));
    // model.json is written last: its presence says the folder is complete.
    if dir.join(nic_model::INFO_FILE).is_file() {
        return Ok(dir);
    }
    let fail = |e: std::io::Error| {
        CodecError::Model(format!(
            "cannot unpack the built-in model into {}: {e} (pass --model DIR or set NIC_MODEL_DIR)",
            dir.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    nic_fs::write_atomic(&dir.join(nic_model::WEIGHTS_FILE), WEIGHTS).map_err(fail)?;
    nic_fs::write_atomic(&dir.join(nic_model::INFO_FILE), MODEL_JSON).map_err(fail)?;
    Ok(dir)
}

/// `$XDG_CACHE_HOME`, else `~/.cache` (`%LOCALAPPDATA%` on Windows).
fn cache_root() -> Result<PathBuf, CodecError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .or_else(|| var("LOCALAPPDATA").map(PathBuf::from))
        .ok_or_else(|| {
            CodecError::Model(
                "no default model found and no cache folder (HOME) to unpack the built-in one \
                 into: pass --model DIR or set NIC_MODEL_DIR"
                    .into(),
            )
        })
}

/// FNV-1a, 64 bits: a name for the content, stable across builds and platforms.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h = (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_model_is_a_model() {
        let info: nic_model::ModelInfo = serde_json::from_slice(MODEL_JSON).unwrap();
        assert!(info.check().is_ok());
        assert!(WEIGHTS.len() > 1 << 20);
        assert_ne!(fnv1a(&[b"a"]), fnv1a(&[b"b"]));
    }
}
